/* Cortex-M0+ (ARMv6-M Thumb-1) fc_dot4 (kernels_opt.h), firmware build only (the host
 * build keeps the C loop there, its specification).
 *
 * void priot_fc_dot4_m0(const int8_t *x, const int8_t *w, uint32_t N, priot_acc_t *a);
 *
 * a[r] += sum_j x[j] * w[r N + j] for r = 0..3 (modulo 2^32), N >= 1: four weight rows
 * streamed with one shared input load, the input skipped when it is zero (after a ReLU
 * about half are).
 *
 * Registers: r0-r3 ends of the four weight rows, r5 end of x, r4 index counting from -N up
 * to 0, r6 x[j], r7 product, r8-r11 the four accumulators.
 * Cost per input: non-zero LDRSB 2 + CMP/BEQ 2 + 4 x (LDRSB 2 + MULS 1 + ADD 1) + ADDS/BNE 3
 * = 23 cycles for 4 MACs (5.75 cycles/MAC); zero 8 cycles. */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
#include "m0_macros.inc"

/* acc += row[j] * x[j] (row end in \row, j in r4, x[j] in r6); clobbers r7 */
    .macro mac_row row, acc
    ldrsb r7, [\row, r4]
    muls r7, r6
    add \acc, r7
    .endm

    m0_function priot_fc_dot4_m0
    m0_save_r4_r11
    push {r3}                  /* a */
    ldm r3!, {r4-r7}           /* the four accumulators */
    mov r8, r4
    mov r9, r5
    mov r10, r6
    mov r11, r7
    adds r5, r0, r2            /* x end */
    adds r0, r1, r2            /* row 0 end */
    adds r1, r0, r2            /* row 1 end */
    adds r3, r1, r2
    movs r4, r2
    movs r2, r3                /* row 2 end */
    adds r3, r2, r4            /* row 3 end */
    rsbs r4, r4, #0            /* -N */
.Lloop:
    ldrsb r6, [r5, r4]
    cmp r6, #0
    beq .Lskip
    mac_row r0, r8
    mac_row r1, r9
    mac_row r2, r10
    mac_row r3, r11
.Lskip:
    adds r4, #1
    bne .Lloop
    pop {r3}
    mov r4, r8
    mov r5, r9
    mov r6, r10
    mov r7, r11
    stm r3!, {r4-r7}
    m0_restore_r4_r11_return
    .size priot_fc_dot4_m0, . - priot_fc_dot4_m0
