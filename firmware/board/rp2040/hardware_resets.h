/* Subsystem resets (RP2040 datasheet 2.14). */
#ifndef PRIOT_HARDWARE_RESETS_H
#define PRIOT_HARDWARE_RESETS_H
#include "hardware_base.h"

typedef struct {
    io_rw_32 reset;
    io_rw_32 wdsel;
    io_ro_32 reset_done;
} resets_hw_t;
#define resets_hw ((resets_hw_t *)RESETS_BASE)

#define RESETS_RESET_IO_BANK0_BITS   (1u << 5)
#define RESETS_RESET_PADS_BANK0_BITS (1u << 8)
#define RESETS_RESET_PLL_SYS_BITS    (1u << 12)
#define RESETS_RESET_UART0_BITS      (1u << 22)

#endif
