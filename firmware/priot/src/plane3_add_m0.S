/* Cortex-M0+ (ARMv6-M Thumb-1) plane3_add inner loops, firmware build only (the host build
 * and a firmware build without PRIOT_ASM_PLANE3 use the C row3_add in kernels_opt.h).
 *
 * void priot_plane3_rows_m0(priot_acc_t *a, const int8_t *r, const int32_t *k,
 *                           uint32_t rows, uint32_t W);
 *
 * For each of `rows` consecutive rows (a and r both advance by W per row):
 *   a[x] += r[x - 1] k[0] + r[x] k[1] + r[x + 1] k[2], x in [0, W), r[-1] = r[W] = 0,
 * summed modulo 2^32 exactly like row3_add. Preconditions: rows >= 1, W >= 2.
 * priot_plane3_rows_gap_m0 is the same for one channel of an interleaved pair
 * (kernels_opt.h "output-channel pairs"): a[2x] instead of a[x], a advancing by 2 W words
 * per row; one ADDS more per output.
 *
 * Registers: r0 acc pointer (advanced by STM), r1 end of the source row (inputs loaded
 * with a negative index r2 counting up to 0), r3 k0, r4-r6 the three rolling inputs (the
 * oldest one, at its last use, is the destroyed MULS operand and then holds the sum),
 * r7 product / accumulator temp, r8 k1, r9 k2, r10 W, r11 rows left, r12 index at which
 * the single-output loop stops (-(3 * groups)), lr first index (-(W - 2)).
 * Interior cost per output: LDRSB 2 + ADDS 1 + 3 MULS + 2 MOV + 3 ADDS + LDR 2 + ADDS 1
 * + STM 2 = 15 cycles, plus a taken BNE per three outputs. */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
#include "m0_macros.inc"

/* after an accumulator's STM: skip the other channel's word when \gap is 1 */
    .macro acc_gap gap
    .if \gap
    adds r0, #4
    .endif
    .endm

/* The function \name; gap 1: the accumulators are every other word (a channel of an
 * interleaved pair, kernels_opt.h): one ADDS r0, #4 after each STM. */
    .macro plane3_rows name, gap
    m0_function \name
    m0_save_r4_r11
    ldr r4, [sp, #36]          /* W (5th argument) */
    mov r10, r4
    mov r11, r3                /* rows */
    ldr r3, [r2, #4]
    mov r8, r3                 /* k1 */
    ldr r3, [r2, #8]
    mov r9, r3                 /* k2 */
    ldr r3, [r2, #0]           /* k0 */
    m0_row_bounds

.Lrow\@:
    ldrb r4, [r1, #0]          /* c = r[0] */
    sxtb r4, r4
    ldrb r5, [r1, #1]          /* n = r[1] */
    sxtb r5, r5
    add r1, r10                /* r1 = end of this row = start of the next */
    /* a[0] += c k1 + n k2 */
    mov r7, r8
    muls r7, r4
    mov r6, r9
    muls r6, r5
    adds r7, r6
    ldr r6, [r0]
    adds r7, r6
    stm r0!, {r7}
    acc_gap \gap
    mov r2, lr                 /* i = -m: next input r[W + i] */
    cmp r2, r12
    beq .Lgroups\@
.Lsingle\@:                      /* c r4, n r5, p r6 */
    ldrsb r6, [r1, r2]
    adds r2, #1
    muls r4, r3
    mov r7, r8
    muls r7, r5
    adds r4, r7
    mov r7, r9
    muls r7, r6
    adds r4, r7
    ldr r7, [r0]
    adds r4, r7
    stm r0!, {r4}
    acc_gap \gap
    mov r4, r5
    mov r5, r6
    cmp r2, r12
    bne .Lsingle\@
.Lgroups\@:
    cmp r2, #0
    beq .Llast\@
.Lgroup\@:
    /* output 0: c r4, n r5, p r6 (loaded) */
    ldrsb r6, [r1, r2]
    adds r2, #1
    muls r4, r3
    mov r7, r8
    muls r7, r5
    adds r4, r7
    mov r7, r9
    muls r7, r6
    adds r4, r7
    ldr r7, [r0]
    adds r4, r7
    stm r0!, {r4}
    acc_gap \gap
    /* output 1: c r5, n r6, p r4 (loaded) */
    ldrsb r4, [r1, r2]
    adds r2, #1
    muls r5, r3
    mov r7, r8
    muls r7, r6
    adds r5, r7
    mov r7, r9
    muls r7, r4
    adds r5, r7
    ldr r7, [r0]
    adds r5, r7
    stm r0!, {r5}
    acc_gap \gap
    /* output 2: c r6, n r4, p r5 (loaded); back to c r4, n r5 */
    ldrsb r5, [r1, r2]
    muls r6, r3
    mov r7, r8
    muls r7, r4
    adds r6, r7
    mov r7, r9
    muls r7, r5
    adds r6, r7
    ldr r7, [r0]
    adds r6, r7
    stm r0!, {r6}
    acc_gap \gap
    adds r2, #1
    bne .Lgroup\@
.Llast\@:
    /* a[W - 1] += c k0 + n k1 */
    muls r4, r3
    mov r7, r8
    muls r7, r5
    adds r4, r7
    ldr r7, [r0]
    adds r4, r7
    stm r0!, {r4}              /* r0 = next row's accumulators */
    acc_gap \gap
    mov r7, r11
    subs r7, #1
    mov r11, r7
    bne .Lrow\@

    m0_restore_r4_r11_return
    .size \name, . - \name
    .endm

    plane3_rows priot_plane3_rows_m0, 0
    plane3_rows priot_plane3_rows_gap_m0, 1
