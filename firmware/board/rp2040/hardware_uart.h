/* PL011 UART (RP2040 datasheet 4.2). */
#ifndef PRIOT_HARDWARE_UART_H
#define PRIOT_HARDWARE_UART_H
#include "hardware_base.h"

typedef struct {
    io_rw_32 dr;        /* 0x00 */
    io_rw_32 rsr;       /* 0x04 */
    uint32_t _pad0[4];
    io_ro_32 fr;        /* 0x18 */
    uint32_t _pad1;
    io_rw_32 ilpr;      /* 0x20 */
    io_rw_32 ibrd;      /* 0x24 */
    io_rw_32 fbrd;      /* 0x28 */
    io_rw_32 lcr_h;     /* 0x2c */
    io_rw_32 cr;        /* 0x30 */
} uart_hw_t;
#define uart0_hw ((uart_hw_t *)UART0_BASE)

#define UART_UARTFR_BUSY_BITS   (1u << 3)
#define UART_UARTFR_RXFE_BITS   (1u << 4)
#define UART_UARTFR_TXFF_BITS   (1u << 5)
#define UART_UARTLCR_H_FEN_BITS (1u << 4)
#define UART_UARTLCR_H_WLEN_8   (3u << 5)
#define UART_UARTCR_UARTEN_BITS (1u << 0)
#define UART_UARTCR_TXE_BITS    (1u << 8)
#define UART_UARTCR_RXE_BITS    (1u << 9)

#endif
