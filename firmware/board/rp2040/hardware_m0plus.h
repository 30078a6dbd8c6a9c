/* Cortex-M0+ private peripherals: SysTick (ARMv6-M ARM B3.3). */
#ifndef PRIOT_HARDWARE_M0PLUS_H
#define PRIOT_HARDWARE_M0PLUS_H
#include "hardware_base.h"

typedef struct {
    io_rw_32 csr;
    io_rw_32 rvr;
    io_rw_32 cvr;
    io_ro_32 calib;
} systick_hw_t;
#define systick_hw ((systick_hw_t *)(PPB_BASE + 0xe010u))

#define SYSTICK_CSR_ENABLE_BITS    (1u << 0)
#define SYSTICK_CSR_TICKINT_BITS   (1u << 1)
#define SYSTICK_CSR_CLKSOURCE_BITS (1u << 2)   /* 1 = processor clock */
#define SYSTICK_MAX                0x00ffffffu /* 24-bit down counter */
#define SYSTICK_PERIOD_BITS        24u

#endif
