/* GPIO function select and pad control, user bank (RP2040 datasheet 2.19). */
#ifndef PRIOT_HARDWARE_GPIO_H
#define PRIOT_HARDWARE_GPIO_H
#include "hardware_base.h"

#define NUM_BANK0_GPIOS 30u

typedef struct {
    struct {
        io_ro_32 status;
        io_rw_32 ctrl;
    } io[NUM_BANK0_GPIOS];
} iobank0_hw_t;
#define iobank0_hw ((iobank0_hw_t *)IO_BANK0_BASE)

typedef struct {
    io_rw_32 voltage_select;
    io_rw_32 io[NUM_BANK0_GPIOS];
} padsbank0_hw_t;
#define padsbank0_hw ((padsbank0_hw_t *)PADS_BANK0_BASE)

#define IO_BANK0_GPIO_CTRL_FUNCSEL_LSB    0u
#define GPIO_FUNC_UART                    2u
#define PADS_BANK0_GPIO_IE_BITS           0x40u
#define PADS_BANK0_GPIO_OD_BITS           0x80u

#endif
