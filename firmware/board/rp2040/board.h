/* Board support for the RP2040 (bare metal, no SDK): the only interface the application
 * uses. Implementation: the .c/.S files beside this header (board.c, startup.S, boot2.S). */
#ifndef PRIOT_BOARD_H
#define PRIOT_BOARD_H
#include <stdint.h>

/* Clocks to 125 MHz from XOSC (12 MHz) + PLL_SYS, clk_peri = clk_sys, UART0 115200 8N1 on
 * GP0 (TX) / GP1 (RX), SysTick running as a 64-bit cycle counter. Call first. */
void board_init(void);

/* Blocking write of n bytes / a NUL-terminated string to UART0 (no newline added). */
void board_uart_write(const char *s, uint32_t n);
void board_puts(const char *s);
/* The next byte UART0 received, or -1 if its RX FIFO is empty (no wait). */
int board_uart_getc(void);

/* clk_sys cycles since board_init (SysTick, extended to 64 bits by its interrupt). */
uint64_t board_cycles(void);
uint32_t board_clk_hz(void);

/* Stack accounting: the stack is painted at reset; peak = bytes ever written. */
uint32_t board_stack_peak(void);
uint32_t board_stack_size(void);

/* Stack overflow detection: a guard band at the bottom of the stack keeps its paint unless
 * the stack overflowed into it. board_check_stack() reports
 * `PRIOT FAULT ... reason=stack_overflow` and halts if so; SysTick runs it periodically. */
#define BOARD_STACK_GUARD_BYTES 256u
int board_stack_intact(void);
void board_check_stack(void);

/* Flash writes through the boot ROM's flash functions (datasheet 2.8.3.1.3), run from
 * SRAM with interrupts off and XIP re-entered after (flash.c). offset: bytes from the
 * start of flash. Erase: whole 4 KiB sectors (offset and n multiples of 4096). Program:
 * whole 256-byte pages (offset and n multiples of 256) of an erased area, data in SRAM.
 * 0 on success, -1 for a misaligned request or one that would touch the firmware. */
int board_flash_erase(uint32_t offset, uint32_t n);
int board_flash_program(uint32_t offset, const uint8_t *data, uint32_t n);

/* Wait until UART0 has sent everything, then idle forever. */
void board_halt(void) __attribute__((noreturn));

#endif
