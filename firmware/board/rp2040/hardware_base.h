/* RP2040 address map and register access helpers (RP2040 datasheet 2.2, 2.1.2). */
#ifndef PRIOT_HARDWARE_BASE_H
#define PRIOT_HARDWARE_BASE_H
#include <stdint.h>

#define CLOCKS_BASE     0x40008000u
#define RESETS_BASE     0x4000c000u
#define IO_BANK0_BASE   0x40014000u
#define PADS_BANK0_BASE 0x4001c000u
#define XOSC_BASE       0x40024000u
#define PLL_SYS_BASE    0x40028000u
#define UART0_BASE      0x40034000u
#define PPB_BASE        0xe0000000u

typedef volatile uint32_t io_rw_32;
typedef const volatile uint32_t io_ro_32;

/* Every APB register has atomic aliases: +0x1000 XOR, +0x2000 set bits, +0x3000 clear bits. */
#define REG_ALIAS_XOR_BITS 0x1000u
#define REG_ALIAS_SET_BITS 0x2000u
#define REG_ALIAS_CLR_BITS 0x3000u

static inline io_rw_32 *hw_alias(io_rw_32 *reg, uint32_t alias)
{
    return (io_rw_32 *)((uintptr_t)reg | alias);
}

static inline void hw_set_bits(io_rw_32 *reg, uint32_t mask)
{
    *hw_alias(reg, REG_ALIAS_SET_BITS) = mask;
}

static inline void hw_clear_bits(io_rw_32 *reg, uint32_t mask)
{
    *hw_alias(reg, REG_ALIAS_CLR_BITS) = mask;
}

/* Replace the bits of `mask` with `values`, leaving the others untouched. */
static inline void hw_write_masked(io_rw_32 *reg, uint32_t values, uint32_t mask)
{
    *hw_alias(reg, REG_ALIAS_XOR_BITS) = (*reg ^ values) & mask;
}

#endif
