/* Cortex-M0+ (ARMv6-M Thumb-1) row3_pair_add over a plane, firmware build only (the host
 * build and a firmware build without PRIOT_ASM_M0 use the C row3_pair_add in
 * kernels_opt.h, its specification).
 *
 * void priot_plane3_pair_rows_m0(priot_acc_t *a, const int8_t *r, const int32_t *k,
 *                                uint32_t rows, uint32_t W);
 *
 * k[0..2] are packed weights of two output channels (K = w0 + 65536 w1, kernels_opt.h
 * "output-channel pairs"); a holds the two channels' accumulators interleaved. For each of
 * `rows` consecutive rows (a advances by 2 W words, r by W per row), x in [0, W):
 *   P = r[x - 1] k[0] + r[x] k[1] + r[x + 1] k[2]   (r[-1] = r[W] = 0)
 *   a[2x] += sxth(P), a[2x + 1] += (P - sxth(P)) >> 16
 * modulo 2^32, exactly like row3_pair_add. Preconditions: rows >= 1, W >= 2, and the
 * caller's bound (pair_row_fits) that keeps both halves of P within int16.
 *
 * Registers: r0 accumulator pointer (advanced by STM), r1 end of the source row (inputs
 * loaded with a negative index r2 counting up to 0), r3 and r7 temporaries, r4-r6 the three
 * rolling inputs (the oldest one, at its last use, is the destroyed MULS operand and then
 * holds P), r8-r10 K0-K2, r11 W, r12 the index at which the single-output loop stops
 * (-(3 * groups)), lr the first index (-(W - 2)); rows left at [sp].
 * Interior cost per output pair: LDRSB 2 + ADDS 1 + 3 x (MOV + MULS) + 2 ADDS + SXTH + SUBS
 * + ASRS + 2 x (LDR 2 + ADDS 1) + STM of two words 3 = 23 cycles for six MACs, plus a
 * taken BNE per three outputs. */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
#include "m0_macros.inc"

/* P (in \c) = \c K0 + \n K1 + \p K2 with \p already loaded; clobbers r3 */
    .macro pair_sum c, n, p
    mov r3, r8
    muls \c, r3
    mov r3, r9
    muls r3, \n
    adds \c, r3
    mov r3, r10
    muls r3, \p
    adds \c, r3
    .endm

/* a[0] += sxth(P), a[1] += (P - sxth(P)) >> 16, a += 2 words; P in \s (destroyed);
 * clobbers r3, r7 */
    .macro pair_store s
    sxth r7, \s
    subs \s, \s, r7
    asrs \s, \s, #16
    ldr r3, [r0]
    adds r3, r7
    ldr r7, [r0, #4]
    adds r7, \s
    stm r0!, {r3, r7}
    .endm

    m0_function priot_plane3_pair_rows_m0
    m0_save_r4_r11
    ldr r4, [sp, #36]          /* W (5th argument) */
    mov r11, r4
    sub sp, #8
    str r3, [sp, #0]           /* rows */
    ldr r3, [r2, #0]
    mov r8, r3                 /* K0 */
    ldr r3, [r2, #4]
    mov r9, r3                 /* K1 */
    ldr r3, [r2, #8]
    mov r10, r3                /* K2 */
    m0_row_bounds

.Lrow:
    ldrb r4, [r1, #0]          /* c = r[0] */
    sxtb r4, r4
    ldrb r5, [r1, #1]          /* n = r[1] */
    sxtb r5, r5
    add r1, r11                /* r1 = end of this row = start of the next */
    /* a[0] += c K1 + n K2 */
    mov r6, r9
    muls r6, r4
    mov r3, r10
    muls r3, r5
    adds r6, r3
    pair_store r6
    mov r2, lr                 /* i = -m: next input r[W + i] */
    cmp r2, r12
    beq .Lgroups
.Lsingle:                      /* c r4, n r5, p r6 */
    ldrsb r6, [r1, r2]
    adds r2, #1
    pair_sum r4, r5, r6
    pair_store r4
    mov r4, r5
    mov r5, r6
    cmp r2, r12
    bne .Lsingle
.Lgroups:
    cmp r2, #0
    beq .Llast
.Lgroup:
    /* output 0: c r4, n r5, p r6 (loaded) */
    ldrsb r6, [r1, r2]
    adds r2, #1
    pair_sum r4, r5, r6
    pair_store r4
    /* output 1: c r5, n r6, p r4 (loaded) */
    ldrsb r4, [r1, r2]
    adds r2, #1
    pair_sum r5, r6, r4
    pair_store r5
    /* output 2: c r6, n r4, p r5 (loaded); back to c r4, n r5 */
    ldrsb r5, [r1, r2]
    pair_sum r6, r4, r5
    pair_store r6
    adds r2, #1
    bne .Lgroup
.Llast:
    /* a[W - 1] += c K0 + n K1 */
    mov r3, r8
    muls r4, r3
    mov r3, r9
    muls r3, r5
    adds r4, r3
    pair_store r4              /* r0 = next row's accumulators */
    ldr r7, [sp, #0]
    subs r7, #1
    str r7, [sp, #0]
    bne .Lrow

    add sp, #8
    m0_restore_r4_r11_return
    .size priot_plane3_pair_rows_m0, . - priot_plane3_pair_rows_m0
