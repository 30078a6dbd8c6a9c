/* Cortex-M0+ (ARMv6-M Thumb-1) priot_score_update_mask (prune.c), firmware build only
 * (the host build and builds without PRIOT_ASM_M0 use the C version in prune.c, which is
 * its specification: the same scores, counts, bitmap, dirty flag and w_eff writes).
 *
 * void priot_score_update_mask_m0(int16_t *s, const int8_t *w, const int16_t *gq,
 *                                 uint32_t n, uint32_t lr_shift, priot_mask_t *m,
 *                                 uint32_t first, int8_t *w_eff);
 *
 * For j < n: step = (gq[j] * w[j] + half) >> lr_shift (|gq * w| <= 2^22: no overflow);
 * r = sat16(s[j] - step); if r != s[j]: s[j] = r and, with ko / kn the old / new key
 * (s + 32768) and B = m->bin: lo[ko & 255]-- if ko >> 8 == B, lo[kn & 255]++ if kn >> 8
 * == B; when the high bytes differ, in_bin and above follow (-1 for the old, +1 for the
 * new one's side); with a bitmap: kn in the window -> set bit first + j, dirty; else if
 * ko was in it -> clear the bit, dirty, and w_eff[j] = kn above the window ? w[j] : 0;
 * else if ko and kn lie on different sides -> that w_eff write. A changed score whose
 * high byte stays the same and is not B touches nothing else (it cannot be in the window
 * and keeps its side).
 *
 * Scores are compared in their signed form (as in fc_score_update_mask_m0.S): the key's
 * high byte u >> 8 is (s >> 8) + 128, so B is kept as B - 128, the window's low end as
 * win_lo - 32768, and the low byte u & 255 = s & 255. Without a bitmap the window is
 * [-2^30, -2^30]: below every score, so no edge is ever in it or crosses it.
 *
 * priot_mask_t offsets (checked in prune.c): bin 8, win_lo 12, win_span 16, dirty 26,
 * has_win 32, above 36, in_bin 40, lo 44, in_win 1068.
 *
 * Registers: r0 s, r1 w, r2 gq, r3 byte index 2j (counting up), r4-r7 temporaries,
 * r8 end (2n), r9 half, r10 lr_shift, r11 B - 128, r12 lo, lr win_span. Stack frame
 * (sp): 4 bitmap, 8 win_lo - 32768, 16 first, 20 w_eff, 24 m.
 * Cost: zero gq 9 cycles; zero step 17; a changed score outside the threshold bin 31. */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
#include "m0_macros.inc"

/* lo[reg & 255] op= 1 (lo in r12; round: unused, for score_mask_m0.inc); clobbers r4, r5 */
    .macro lo_op reg, op, round=0
    uxtb r4, \reg
    lsls r4, r4, #2
    add r4, r12
    ldr r5, [r4]
    \op r5, #1
    str r5, [r4]
    .endm
#include "score_mask_m0.inc"

/* bit first + j of the bitmap: r6 its word's address, r5 the word, r4 the bit's mask */
    .macro bit_locate
    lsrs r6, r3, #1
    ldr r5, [sp, #16]
    adds r6, r5
    movs r5, #31
    ands r5, r6
    movs r4, #1
    lsls r4, r5
    lsrs r6, r6, #5
    lsls r6, r6, #2
    ldr r5, [sp, #4]
    adds r6, r5
    ldr r5, [r6]
    .endm

    m0_function priot_score_update_mask_m0
    m0_save_r4_r11
    sub sp, #32
    /* stack arguments: sp + 32 + 36 */
    lsls r3, r3, #1
    mov r8, r3                 /* end = 2n */
    ldr r4, [sp, #68]          /* lr_shift */
    mov r10, r4
    movs r5, #0
    cmp r4, #0
    beq 1f
    subs r4, #1
    movs r5, #1
    lsls r5, r4                /* half = 1 << (lr_shift - 1) */
1:  mov r9, r5
    ldr r4, [sp, #72]          /* m */
    str r4, [sp, #24]
    ldr r5, [r4, #8]           /* bin */
    subs r5, #128
    mov r11, r5                /* B - 128: the bin as a signed high byte */
    movs r5, #44
    adds r5, r4
    mov r12, r5                /* lo */
    window_setup lr
    add r5, sp, #76
    ldm r5!, {r6, r7}          /* first, w_eff */
    str r6, [sp, #16]
    str r7, [sp, #20]
    movs r3, #0
    cmp r3, r8
    bhs .Ldone

.Lloop:
    ldrsh r4, [r2, r3]         /* g */
    cmp r4, #0
    beq .Lnext
    lsrs r5, r3, #1
    ldrsb r5, [r1, r5]         /* w[j] */
    muls r4, r5                /* g * w (0: the step below is 0 too) */
    add r4, r9
    mov r5, r10
    asrs r4, r5                /* step */
    beq .Lnext
    ldrsh r6, [r0, r3]         /* old */
    subs r7, r6, r4            /* r = old - step */
    sxth r5, r7
    cmp r5, r7
    bne .Lsat                  /* r outside int16 */
.Lchanged:                     /* r6 old, r7 new score; r4, r5 free */
    strh r7, [r0, r3]
    eors r6, r7                /* old ^ new */
    asrs r5, r6, #8
    bne .Ldiffbin              /* the high bytes differ */
    asrs r5, r7, #8
    cmp r5, r11
    beq .Linbin                /* both in the threshold bin */
.Lnext:
    adds r3, #2
    cmp r3, r8
    blo .Lloop
.Ldone:
    add sp, #32
    m0_restore_r4_r11_return

.Lsat:                         /* saturate r7; unchanged if == old */
    saturate_score .Lnext, .Lchanged

    move_counts r11, 0, .Ldiffbin, .Linbin, .Lwindow
.Lwindow:                      /* r6 old, r7 new; r4, r5 free */
    window_offsets
    cmp r7, lr                 /* win_span */
    bls .Lin_new
    cmp r6, lr
    bls .Lleave
    movs r5, r7                /* both outside: sides differ? */
    eors r5, r6
    bpl .Lnext
    b .Lweff

.Lleave:                       /* clear bit first + j, dirty */
    bit_locate
    bics r5, r4
    str r5, [r6]
    set_dirty
.Lweff:                        /* w_eff[j] = new above the window ? w[j] : 0 */
    lsrs r6, r3, #1
    movs r5, #0
    cmp r7, #0
    ble 5f
    ldrb r5, [r1, r6]
5:  ldr r4, [sp, #20]
    strb r5, [r4, r6]
    b .Lnext

.Lin_new:                      /* set bit first + j, dirty; w_eff at the refresh */
    bit_locate
    orrs r5, r4
    str r5, [r6]
    set_dirty
    b .Lnext

    .ltorg
    .size priot_score_update_mask_m0, . - priot_score_update_mask_m0
