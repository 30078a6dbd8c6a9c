/* Cortex-M0+ (ARMv6-M Thumb-1) requantisation, firmware build only (the host build and a
 * firmware build without PRIOT_ASM_M0 use requant_plane / requant_pair in kernels_opt.h,
 * their specification).
 *
 * void priot_requant_plane_m0(const priot_acc_t *acc, int8_t *y, uint32_t n,
 *                             uint32_t shift, uint32_t relu);
 *   y[p] = sat8(round_shift(acc[p], shift)), floored at 0 when relu; p < n
 * void priot_requant_pair_m0(const priot_acc_t *acc2, int8_t *y, uint32_t n,
 *                            uint32_t shift, uint32_t relu);
 *   the same for a channel pair's interleaved accumulators: y[p] from acc2[2p] and
 *   y[n + p] from acc2[2p + 1] (kernels_opt.h "output-channel pairs").
 * Preconditions: n >= 1, 1 <= shift <= 31 (the callers take the C code for shift 0).
 *
 * round_shift(v, s) = (v >> s) + bit s - 1 of v: t = v >> (s - 1), then ASRS t, #1 leaves
 * that bit in the carry and ADCS with a zero register adds it. Saturation by one unsigned
 * compare (relu: v > 127 unsigned catches both ends; otherwise v + 128 > 255), its fix-up
 * out of line.
 *
 * Registers: r0 acc, r1 y, r2 end of y (plane) / n (pair: y's offset to the second
 * channel), r3 shift - 1, r4 r5 values, r6 zero, r7 scratch (pair: end of y).
 * Cost per element, relu: LDM 1.5 + ASRS, ASRS, ADCS, CMP, BHI 5 + STRB 2 + loop ~1.5:
 * ~10 cycles (~12 without relu). */
    .syntax unified
    .cpu cortex-m0plus
    .thumb
#include "m0_macros.inc"

/* \v = sat8(round_shift(\v)) with the floor of \relu; \id names the fix-up label */
    .macro rq v, relu, id
    asrs \v, r3
    asrs \v, \v, #1
    adcs \v, r6
    .if \relu
    cmp \v, #127
    bhi .Lfix\id
    .else
    movs r7, \v
    adds r7, #128
    cmp r7, #255
    bhi .Lfix\id
    .endif
.Lback\id:
    .endm

/* the out-of-line saturations of the values of one loop body */
    .macro rq_fix v, relu, id
.Lfix\id:
    asrs \v, \v, #31           /* -1 below the range, 0 above */
    .if \relu
    mvns \v, \v
    lsrs \v, \v, #25           /* 0 or 127 */
    .else
    movs r7, #127
    eors \v, r7                /* -128 or 127 */
    .endif
    b .Lback\id
    .endm

/* plane: two elements per pass (an odd one first); r2 = end of y */
    .macro requant_plane_body relu
    adds r2, r1, r2            /* end of y */
    subs r7, r2, r1
    lsrs r7, r7, #1            /* carry: n odd */
    bcc 1f
    ldm r0!, {r4}
    rq r4, \relu, p0\relu
    strb r4, [r1]
    adds r1, #1
1:  cmp r1, r2
    beq 9f
2:  ldm r0!, {r4, r5}
    rq r4, \relu, p1\relu
    rq r5, \relu, p2\relu
    strb r4, [r1]
    strb r5, [r1, #1]
    adds r1, #2
    cmp r1, r2
    bne 2b
9:  pop {r4-r7, pc}
    rq_fix r4, \relu, p0\relu
    rq_fix r4, \relu, p1\relu
    rq_fix r5, \relu, p2\relu
    .endm

/* pair: one element of each channel per pass; r2 = n (offset of the second channel's
 * output), ip = end of the first channel's output */
    .macro requant_pair_body relu
2:  ldm r0!, {r4, r5}
    rq r4, \relu, q1\relu
    rq r5, \relu, q2\relu
    strb r4, [r1]
    strb r5, [r1, r2]
    adds r1, #1
    cmp r1, ip
    bne 2b
    pop {r4-r7, pc}
    rq_fix r4, \relu, q1\relu
    rq_fix r5, \relu, q2\relu
    .endm

/* the shared entry: r4 = relu, r3 = shift - 1, r6 = 0 */
    .macro requant_entry name
    m0_function \name
    push {r4-r7, lr}
    ldr r4, [sp, #20]          /* relu (5th argument) */
    subs r3, #1                /* shift - 1 */
    movs r6, #0
    .endm

    requant_entry priot_requant_plane_m0
    cmp r4, #0
    bne .Lplane_relu
    requant_plane_body 0
.Lplane_relu:
    requant_plane_body 1
    .size priot_requant_plane_m0, . - priot_requant_plane_m0

    requant_entry priot_requant_pair_m0
    adds r7, r1, r2
    mov ip, r7                 /* end of the first channel's output */
    cmp r4, #0
    bne .Lpair_relu
    requant_pair_body 0
.Lpair_relu:
    requant_pair_body 1
    .size priot_requant_pair_m0, . - priot_requant_pair_m0
