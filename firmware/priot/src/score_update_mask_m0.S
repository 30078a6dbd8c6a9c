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

/* lo[reg & 255] op= 1; clobbers r4, r5 */
    .macro lo_op reg, op
    uxtb r4, \reg
    lsls r4, r4, #2
    add r4, r12
    ldr r5, [r4]
    \op r5, #1
    str r5, [r4]
    .endm

/* the m field at offset off op= 1; clobbers r4, r5 */
    .macro field_op off, op
    ldr r5, [sp, #24]
    ldr r4, [r5, #\off]
    \op r4, #1
    str r4, [r5, #\off]
    .endm

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

/* m->dirty = 1; clobbers r5, r6 */
    .macro set_dirty
    ldr r6, [sp, #24]
    movs r5, #1
    strh r5, [r6, #26]
    .endm

    .section .text.priot_score_update_mask_m0, "ax", %progbits
    .align 2
    .global priot_score_update_mask_m0
    .type priot_score_update_mask_m0, %function
    .thumb_func
priot_score_update_mask_m0:
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
    ldr r6, [r4, #32]          /* has_win */
    cmp r6, #0
    bne 2f
    str r6, [sp, #4]           /* no bitmap: the window [-2^30, -2^30], below all */
    mov lr, r6
    movs r5, #1
    lsls r5, r5, #30
    rsbs r5, r5, #0
    str r5, [sp, #8]
    b 3f
2:  ldr r6, =1068
    adds r6, r4                /* in_win */
    str r6, [sp, #4]
    ldr r5, [r4, #12]          /* win_lo */
    movs r6, #128
    lsls r6, r6, #8
    subs r5, r5, r6
    str r5, [sp, #8]           /* win_lo - 32768 */
    ldr r5, [r4, #16]
    mov lr, r5                 /* win_span */
3:  add r5, sp, #76
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
    movs r5, #128
    lsls r5, r5, #8            /* 32768 */
    cmp r7, #0
    blt 3f
    subs r7, r5, #1            /* 32767 */
    b 4f
3:  rsbs r7, r5, #0            /* -32768 */
4:  cmp r7, r6
    beq .Lnext
    b .Lchanged

.Ldiffbin:                     /* r6 old ^ new: the old score's side, then the new one's */
    eors r6, r7                /* old */
    asrs r5, r6, #8
    cmp r5, r11
    beq 6f
    blt 7f                     /* below the bin: no count */
    field_op 36, subs          /* above-- */
    b 7f
6:  field_op 40, subs          /* in_bin-- */
    lo_op r6, subs             /* lo[old & 255]-- */
7:  asrs r5, r7, #8
    cmp r5, r11
    beq 8f
    blt .Lwindow
    field_op 36, adds          /* above++ */
    b .Lwindow
8:  field_op 40, adds          /* in_bin++ */
    lo_op r7, adds             /* lo[new & 255]++ */
    b .Lwindow

.Linbin:                       /* r6 old ^ new */
    eors r6, r7                /* old */
    lo_op r6, subs
    lo_op r7, adds
.Lwindow:                      /* r6 old, r7 new; r4, r5 free */
    ldr r5, [sp, #8]
    subs r6, r6, r5            /* old - win_lo: > 0 above, < 0 below (when outside) */
    subs r7, r7, r5            /* new - win_lo */
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
