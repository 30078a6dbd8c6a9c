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
 * priot_mask_t offsets (checked in prune.c): bin 8, win_lo 12, win_span 16, dirty 26,
 * has_win 32, above 36, in_bin 40, lo 44, in_win 1068.
 *
 * Registers: r0 s, r1 w, r2 gq, r3 byte index 2j (counting up), r4-r7 temporaries,
 * r8 end (2n), r9 half, r10 lr_shift, r11 bin. Stack frame (sp): 0 lo, 8 bitmap
 * (0 without one), 12 win_lo, 16 win_span, 20 first, 24 w_eff, 28 m.
 * Cost: zero gq 8 cycles; zero step 16-20; a changed score outside the threshold bin 38. */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
#include "m0_macros.inc"

/* [table + 4 r6] op= 1 for the table whose address is at [sp, #off]; clobbers r6, r7 */
    .macro count_op off, op
    lsls r6, r6, #2
    ldr r7, [sp, #\off]
    adds r6, r7
    ldr r7, [r6]
    \op r7, #1
    str r7, [r6]
    .endm

/* the m field at offset off (m in r7) op= 1; clobbers r6 */
    .macro field_op off, op
    ldr r6, [r7, #\off]
    \op r6, #1
    str r6, [r7, #\off]
    .endm

/* bit first + j of the bitmap: r6 its word's address, r7 the word, r5 the bit's mask */
    .macro bit_locate
    lsrs r6, r3, #1
    ldr r7, [sp, #20]
    adds r6, r7
    movs r7, #31
    ands r7, r6
    lsrs r6, r6, #5
    lsls r6, r6, #2
    movs r5, #1
    lsls r5, r7
    ldr r7, [sp, #8]
    adds r6, r7
    ldr r7, [r6]
    .endm

/* m->dirty = 1; clobbers r6, r7 */
    .macro set_dirty
    ldr r6, [sp, #28]
    movs r7, #1
    strh r7, [r6, #26]
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
    str r4, [sp, #28]
    ldr r5, [r4, #8]
    mov r11, r5                /* bin */
    movs r5, #12
    adds r5, r4
    ldm r5!, {r6, r7}          /* win_lo, win_span */
    str r6, [sp, #12]
    str r7, [sp, #16]
    movs r5, #44
    adds r5, r4
    str r5, [sp, #0]           /* lo */
    ldr r6, [r4, #32]          /* has_win */
    cmp r6, #0
    beq 2f
    ldr r6, =1068
    adds r6, r4                /* in_win */
2:  str r6, [sp, #8]
    add r5, sp, #76
    ldm r5!, {r6, r7}          /* first, w_eff */
    str r6, [sp, #20]
    str r7, [sp, #24]
    movs r3, #0
    cmp r3, r8
    bhs .Ldone

.Lloop:
    ldrsh r4, [r2, r3]         /* g */
    cmp r4, #0
    bne .Lnz
.Lnext:
    adds r3, #2
    cmp r3, r8
    blo .Lloop
.Ldone:
    add sp, #32
    m0_restore_r4_r11_return

.Lnz:
    lsrs r5, r3, #1
    ldrsb r5, [r1, r5]         /* w[j] */
    muls r4, r5                /* g * w; Z: zero step */
    beq .Lnext
    add r4, r9
    mov r5, r10
    asrs r4, r5                /* step */
    beq .Lnext
    ldrsh r5, [r0, r3]         /* old */
    subs r6, r5, r4            /* r = old - step */
    movs r7, #128
    lsls r7, #8                /* 0x8000 */
    adds r4, r6, r7            /* kn = r + 32768 */
    lsrs r7, r4, #16           /* r outside int16 */
    bne .Lsat
.Lchanged:                     /* r4 kn, r5 old, r6 new score */
    strh r6, [r0, r3]
    subs r7, r4, r6            /* 32768 */
    adds r5, r5, r7            /* ko */
    movs r6, r4
    eors r6, r5
    lsrs r6, r6, #8
    bne .Ldiffbin
    lsrs r6, r5, #8
    cmp r6, r11
    bne .Lnext                 /* same high byte, not the threshold bin */
    uxtb r6, r5                /* lo[ko & 255]--, lo[kn & 255]++ */
    count_op 0, subs
    uxtb r6, r4
    count_op 0, adds
    b .Lwindow

.Lsat:                         /* r6 = r out of range: saturate, unchanged if == old */
    movs r4, #0
    cmp r6, #0
    blt 3f
    ldr r4, =65535
3:  movs r7, #128
    lsls r7, #8
    subs r6, r4, r7            /* -32768 or 32767 */
    cmp r6, r5
    beq .Lnext
    b .Lchanged

.Ldiffbin:                     /* the old key's side: lo and in_bin, or above */
    lsrs r6, r5, #8
    cmp r6, r11
    beq 6f
    bls 7f                     /* below the bin: no count */
    ldr r7, [sp, #28]
    field_op 36, subs          /* above-- */
    b 7f
6:  ldr r7, [sp, #28]
    field_op 40, subs          /* in_bin-- */
    uxtb r6, r5
    count_op 0, subs           /* lo[ko & 255]-- */
7:  lsrs r6, r4, #8            /* the new key's side */
    cmp r6, r11
    beq 8f
    bls .Lwindow
    ldr r7, [sp, #28]
    field_op 36, adds          /* above++ */
    b .Lwindow
8:  ldr r7, [sp, #28]
    field_op 40, adds          /* in_bin++ */
    uxtb r6, r4
    count_op 0, adds           /* lo[kn & 255]++ */

.Lwindow:                      /* r4 kn, r5 ko */
    ldr r7, [sp, #8]
    cmp r7, #0
    beq .Lnext                 /* no bitmap: threshold only */
    ldr r6, [sp, #12]
    subs r4, r4, r6            /* kn - win_lo: > 0 above, < 0 below (when outside) */
    subs r5, r5, r6            /* ko - win_lo */
    ldr r6, [sp, #16]
    cmp r4, r6
    bls .Lin_new
    cmp r5, r6
    bls .Lleave
    movs r7, r4                /* both outside: sides differ? */
    eors r7, r5
    bpl .Lnext
    b .Lweff

.Lleave:                       /* clear bit first + j, dirty */
    bit_locate
    bics r7, r5
    str r7, [r6]
    set_dirty
.Lweff:                        /* w_eff[j] = kn above the window ? w[j] : 0 */
    lsrs r6, r3, #1
    movs r5, #0
    cmp r4, #0
    ble 5f
    ldrb r5, [r1, r6]
5:  ldr r7, [sp, #24]
    strb r5, [r7, r6]
    b .Lnext

.Lin_new:                      /* set bit first + j, dirty; w_eff at the refresh */
    bit_locate
    orrs r7, r5
    str r7, [r6]
    set_dirty
    b .Lnext

    .ltorg
    .size priot_score_update_mask_m0, . - priot_score_update_mask_m0
