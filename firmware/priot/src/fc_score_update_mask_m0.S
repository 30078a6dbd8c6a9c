/* Cortex-M0+ (ARMv6-M Thumb-1) fc_score_update_mask_row (prune.c), firmware build only
 * (the host build and builds without PRIOT_ASM_M0 use the C version in prune.c, which is
 * its specification: the same scores, counts, bitmap, dirty flag and w_eff writes).
 *
 * void priot_fc_score_update_mask_m0(int16_t *s, const int8_t *w,
 *                                    const priot_fc_inputs_t *in, int32_t ev,
 *                                    priot_mask_t *m, uint32_t first, int8_t *w_eff);
 *
 * One output row of an fc layer, its score gradient fused in: for every list entry
 * (x << 16 | i, x != 0): g = (ev * x + half_g) >> grad_shift (= priot_fc_score_grad's
 * value, |ev x| <= 2^14), then score_update_mask_m0.S's update of s[i] with g and w[i]:
 * step = (g * w[i] + half) >> lr_shift; r = sat16(s[i] - step); if r != s[i]: s[i] = r,
 * the counts (lo, in_bin, above) of the old and the new score moved, and with a bitmap
 * bit first + i / dirty / w_eff[i] as there. Scores are compared in their signed form:
 * the key's high byte u >> 8 is (s >> 8) + 128, so the threshold bin is kept as
 * bin - 128, the window's low end as win_lo - 32768, and the low byte u & 255 = s & 255.
 * Two copies of the loop: grad_shift 0 (no rounding of ev * x) and grad_shift > 0.
 *
 * priot_fc_inputs_t offsets (checked in prune.c): list 0, count 4, grad_shift 8,
 * lr_shift 12; priot_mask_t as in score_update_mask_m0.S: bin 8, win_lo 12, win_span 16,
 * dirty 26, has_win 32, above 36, in_bin 40, lo 44, in_win 1068.
 *
 * Registers: r0 s, r1 w, r2 list pointer, r3 ev, r4-r7 temporaries, r8 list end,
 * r9 half_g, r10 grad_shift (the grad_shift 0 loop: r9 lo, r10 win_span), r11 half,
 * r12 lr_shift, lr bin - 128. Stack frame (sp):
 * 0 lo, 4 bitmap, 8 win_lo - 32768, 12 win_span, 16 first, 20 w_eff, 24 m, 28 ev
 * (without a bitmap: 0, and the window [-2^30, -2^30], below every score, so that no
 * edge is ever in it or crosses it).
 * Cost per listed input (grad_shift 0; +3 with rounding): a zero step 16 cycles, a
 * changed score outside the threshold bin 30, inside it ~68. */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
#include "m0_macros.inc"

/* lo[reg & 255] op= 1 (lo: [sp] with rounding, r9 without); clobbers r4, r5 */
    .macro lo_op reg, op, round
    uxtb r4, \reg
    lsls r4, r4, #2
    .if \round
    ldr r5, [sp, #0]
    adds r4, r5
    .else
    add r4, r9
    .endif
    ldr r5, [r4]
    \op r5, #1
    str r5, [r4]
    .endm

#include "score_mask_m0.inc"

/* r4 = i again, from the list entry just read (the counts clobber r4) */
    .macro reload_i
    subs r4, r2, #4
    ldr r4, [r4]
    uxth r4, r4
    .endm

/* bit first + i of the bitmap (r4 = i): r6 its word's address, r5 the word, r3 the
 * bit's mask (ev is reloaded afterwards) */
    .macro bit_locate
    movs r6, r4
    ldr r5, [sp, #16]
    adds r6, r5
    movs r5, #31
    ands r5, r6
    movs r3, #1
    lsls r3, r5
    lsrs r6, r6, #5
    lsls r6, r6, #2
    ldr r5, [sp, #4]
    adds r6, r5
    ldr r5, [r6]
    .endm

/* The row loop; round: grad_shift > 0. */
    .macro fused_row round, sfx
.Lloop\sfx:
    ldm r2!, {r4}              /* x << 16 | i */
    asrs r5, r4, #16           /* x */
    muls r5, r3, r5            /* ev * x */
    .if \round
    add r5, r9
    mov r6, r10
    asrs r5, r6                /* g */
    .endif
    uxth r4, r4                /* i */
    ldrsb r6, [r1, r4]         /* w[i] */
    muls r5, r6, r5            /* g * w (0: the step below is 0 too) */
    add r5, r11
    mov r6, r12
    asrs r5, r6                /* step */
    beq .Lnext\sfx
    lsls r4, r4, #1            /* 2 i from here on */
    ldrsh r6, [r0, r4]         /* old */
    subs r7, r6, r5            /* r = old - step */
    sxth r5, r7
    cmp r5, r7
    bne .Lsat\sfx              /* r outside int16 */
.Lchanged\sfx:                 /* r4 2 i, r6 old, r7 new score */
    strh r7, [r0, r4]
    eors r6, r7                /* old ^ new */
    asrs r5, r6, #8
    bne .Ldiffbin\sfx          /* the high bytes differ */
    asrs r5, r7, #8
    cmp r5, lr
    beq .Linbin\sfx            /* both in the threshold bin */
.Lnext\sfx:
    cmp r2, r8
    blo .Lloop\sfx
    b .Lreturn

.Lsat\sfx:                     /* saturate r7; unchanged if == old */
    saturate_score .Lnext\sfx, .Lchanged\sfx

    move_counts lr, \round, .Ldiffbin\sfx, .Linbin\sfx, .Lwindow\sfx
.Lwindow\sfx:                  /* r6 old, r7 new; r4, r5 free (no bitmap: a window
                                  below every score, nothing happens) */
    window_offsets
    .if \round
    ldr r5, [sp, #12]          /* win_span */
    cmp r7, r5
    bls .Lin_new\sfx
    cmp r6, r5
    .else
    cmp r7, r10                /* win_span */
    bls .Lin_new\sfx
    cmp r6, r10
    .endif
    bls .Lleave\sfx
    movs r5, r7                /* both outside: sides differ? */
    eors r5, r6
    bpl .Lnext\sfx
    reload_i
    b .Lweff\sfx

.Lleave\sfx:                   /* clear bit first + i, dirty */
    reload_i
    bit_locate
    bics r5, r3
    str r5, [r6]
    set_dirty
.Lweff\sfx:                    /* w_eff[i] = new above the window ? w[i] : 0 */
    movs r5, #0
    cmp r7, #0
    ble 5f
    ldrb r5, [r1, r4]
5:  ldr r3, [sp, #20]
    strb r5, [r3, r4]
    b .Lrestore\sfx

.Lin_new\sfx:                  /* set bit first + i, dirty; w_eff at the refresh */
    reload_i
    bit_locate
    orrs r5, r3
    str r5, [r6]
    set_dirty
.Lrestore\sfx:
    ldr r3, [sp, #28]          /* ev */
    b .Lnext\sfx
    .endm

    m0_function priot_fc_score_update_mask_m0
    m0_save_r4_r11
    sub sp, #32
    /* stack arguments: sp + 32 + 36 */
    str r3, [sp, #28]          /* ev */
    ldr r4, [r2, #4]           /* count */
    cmp r4, #0
    bne 1f
    b .Lreturn
1:
    ldr r5, [r2, #0]           /* list */
    lsls r4, r4, #2
    adds r4, r5
    mov r8, r4                 /* list end */
    ldr r6, [r2, #12]          /* lr_shift */
    mov r12, r6
    movs r7, #0
    cmp r6, #0
    beq 1f
    subs r6, #1
    movs r7, #1
    lsls r7, r6                /* half = 1 << (lr_shift - 1) */
1:  mov r11, r7
    ldr r4, [r2, #8]           /* grad_shift */
    mov r10, r4
    movs r7, #0
    cmp r4, #0
    beq 1f
    subs r6, r4, #1
    movs r7, #1
    lsls r7, r6                /* half_g = 1 << (grad_shift - 1) */
1:  mov r9, r7
    mov r2, r5                 /* list pointer */
    ldr r4, [sp, #68]          /* m */
    str r4, [sp, #24]
    ldr r5, [r4, #8]           /* bin */
    subs r5, #128
    mov lr, r5                 /* bin - 128: the bin as a signed high byte */
    movs r5, #44
    adds r5, r4
    str r5, [sp, #0]           /* lo */
    window_setup stack
    add r5, sp, #72
    ldm r5!, {r6, r7}          /* first, w_eff */
    str r6, [sp, #16]
    str r7, [sp, #20]
    mov r4, r10
    cmp r4, #0
    beq 4f
    b .Lloop_r
4:  ldr r4, [sp, #0]           /* grad_shift 0: r9 lo, r10 win_span */
    mov r9, r4
    ldr r4, [sp, #12]
    mov r10, r4
    fused_row 0, _n
    fused_row 1, _r
.Lreturn:
    add sp, #32
    m0_restore_r4_r11_return

    .ltorg
    .size priot_fc_score_update_mask_m0, . - priot_fc_score_update_mask_m0
