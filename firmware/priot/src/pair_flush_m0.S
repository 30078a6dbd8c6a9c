/* Cortex-M0+ (ARMv6-M Thumb-1) pair_flush, firmware build only (the host build and a
 * firmware build without PRIOT_ASM_M0 use the C pair_flush in kernels_opt.h, its
 * specification).
 *
 * void priot_pair_flush_m0(priot_acc_t *acc2, priot_acc_t *q, uint32_t n);
 *
 * For p in [0, n): acc2[2p] += sxth(q[p]), acc2[2p + 1] += (q[p] - sxth(q[p])) >> 16,
 * q[p] = 0 (kernels_opt.h "deferred split": q holds a channel pair's packed sums, both
 * halves within int16 by the caller's bound). n >= 1.
 *
 * Registers: r0 acc2, r1 q (both advanced by STM), r2 elements left, r3 q's high half,
 * r4 its low half, r5 r6 the accumulators, r7 zero.
 * Cost per element: LDR 2 + SXTH, SUBS, ASRS 3 + 2 LDR 4 + 2 ADDS + STM 3 + STM 2, and the
 * loop's SUBS + BNE once per two elements: 17.5 cycles. */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
#include "m0_macros.inc"

    .macro flush_one
    ldr r3, [r1]
    sxth r4, r3
    subs r3, r3, r4
    asrs r3, r3, #16
    ldr r5, [r0]
    ldr r6, [r0, #4]
    adds r5, r4
    adds r6, r3
    stm r0!, {r5, r6}
    stm r1!, {r7}
    .endm

    m0_function priot_pair_flush_m0
    push {r4-r7, lr}
    movs r7, #0
    lsrs r2, r2, #1            /* pairs of elements; carry = n odd */
    bcc 1f
    flush_one
    cmp r2, #0
    beq 2f
1:  flush_one
    flush_one
    subs r2, #1
    bne 1b
2:  pop {r4-r7, pc}
    .size priot_pair_flush_m0, . - priot_pair_flush_m0
