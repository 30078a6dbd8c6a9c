/* RP2040 board support: clocks, UART0, SysTick cycle counter, stack accounting, faults.
 * Register-level, from the RP2040 datasheet; no SDK. */
#include "board.h"
#include "board_startup.h"
#include "hardware_clocks.h"
#include "hardware_gpio.h"
#include "hardware_m0plus.h"
#include "hardware_resets.h"
#include "hardware_uart.h"

#define XOSC_HZ            12000000u
/* 1 ms of crystal start-up, in units of 256 XOSC cycles (datasheet 2.16.3). */
#define XOSC_STARTUP_DELAY ((XOSC_HZ / 1000u + 128u) / 256u)

/* PLL_SYS: 12 MHz / 1 * 125 = 1500 MHz VCO, / 6 / 2 = 125 MHz (the standard Pico setting). */
#define PLL_SYS_REFDIV   1u
#define PLL_SYS_FBDIV    125u
#define PLL_SYS_POSTDIV1 6u
#define PLL_SYS_POSTDIV2 2u
#define CLK_SYS_HZ       (XOSC_HZ / PLL_SYS_REFDIV * PLL_SYS_FBDIV / (PLL_SYS_POSTDIV1 * PLL_SYS_POSTDIV2))
#define CLK_PERI_HZ      CLK_SYS_HZ
#define CLK_DIV_ONE      (1u << CLOCKS_CLK_DIV_INT_LSB)

#define UART_BAUD   115200u
#define UART_TX_PIN 0u
#define UART_RX_PIN 1u
/* Baud divisor in 1/128 units; IBRD = integer part, FBRD = 6-bit fraction, rounded
 * (datasheet 4.2.7.1). 8 * 125 MHz still fits in 32 bits. */
#define UART_BAUD_DIV_X128 (8u * CLK_PERI_HZ / UART_BAUD)
#define UART_IBRD          (UART_BAUD_DIV_X128 >> 7)
#define UART_FBRD          (((UART_BAUD_DIV_X128 & 0x7fu) + 1u) / 2u)

extern uint32_t __stack_bottom[];
extern uint32_t __stack_top[];

static uint32_t clk_sys_hz;
static int uart_ready;
static volatile uint32_t systick_wraps;
static uint64_t cycles_at_init;

/* ------------------------------------------------------------------ clocks */

static void reset_block(uint32_t bits)
{
    hw_set_bits(&resets_hw->reset, bits);
}

static void unreset_block_wait(uint32_t bits)
{
    hw_clear_bits(&resets_hw->reset, bits);
    while ((resets_hw->reset_done & bits) != bits) {
    }
}

static void xosc_init(void)
{
    xosc_hw->ctrl = XOSC_CTRL_FREQ_RANGE_VALUE_1_15MHZ;
    xosc_hw->startup = XOSC_STARTUP_DELAY & XOSC_STARTUP_DELAY_BITS;
    hw_set_bits(&xosc_hw->ctrl, XOSC_CTRL_ENABLE_VALUE_ENABLE << XOSC_CTRL_ENABLE_LSB);
    while (!(xosc_hw->status & XOSC_STATUS_STABLE_BITS)) {
    }
}

static void pll_sys_init(void)
{
    reset_block(RESETS_RESET_PLL_SYS_BITS);
    unreset_block_wait(RESETS_RESET_PLL_SYS_BITS);
    pll_sys_hw->cs = PLL_SYS_REFDIV;
    pll_sys_hw->fbdiv_int = PLL_SYS_FBDIV;
    hw_clear_bits(&pll_sys_hw->pwr, PLL_PWR_PD_BITS | PLL_PWR_VCOPD_BITS);
    while (!(pll_sys_hw->cs & PLL_CS_LOCK_BITS)) {
    }
    pll_sys_hw->prim = (PLL_SYS_POSTDIV1 << PLL_PRIM_POSTDIV1_LSB) |
                       (PLL_SYS_POSTDIV2 << PLL_PRIM_POSTDIV2_LSB);
    hw_clear_bits(&pll_sys_hw->pwr, PLL_PWR_POSTDIVPD_BITS);
}

/* What PLL_SYS really outputs, read back from its registers (clk_sys divides by 1). */
static uint32_t pll_sys_output_hz(void)
{
    uint32_t refdiv = pll_sys_hw->cs & PLL_CS_REFDIV_BITS;
    uint32_t fbdiv = pll_sys_hw->fbdiv_int & PLL_FBDIV_INT_BITS;
    uint32_t postdiv1 = (pll_sys_hw->prim >> PLL_PRIM_POSTDIV1_LSB) & PLL_PRIM_POSTDIV_BITS;
    uint32_t postdiv2 = (pll_sys_hw->prim >> PLL_PRIM_POSTDIV2_LSB) & PLL_PRIM_POSTDIV_BITS;
    return XOSC_HZ / refdiv * fbdiv / (postdiv1 * postdiv2);
}

static void clocks_init(void)
{
    clock_hw_t *ref = &clocks_hw->clk[clk_ref];
    clock_hw_t *sys = &clocks_hw->clk[clk_sys];
    clock_hw_t *peri = &clocks_hw->clk[clk_peri];

    clocks_hw->resus_ctrl = 0;
    xosc_init();

    /* Run clk_sys from clk_ref and clk_ref from the ring oscillator while the PLL changes
     * (both have glitchless muxes; SELECTED is one-hot). */
    hw_clear_bits(&sys->ctrl, CLOCKS_CLK_SYS_CTRL_SRC_BITS);
    while (sys->selected != 1u) {
    }
    hw_clear_bits(&ref->ctrl, CLOCKS_CLK_REF_CTRL_SRC_BITS);
    while (ref->selected != 1u) {
    }
    pll_sys_init();

    /* clk_ref = XOSC / 1 */
    ref->div = CLK_DIV_ONE;
    hw_write_masked(&ref->ctrl, CLOCKS_CLK_REF_CTRL_SRC_VALUE_XOSC_CLKSRC,
                    CLOCKS_CLK_REF_CTRL_SRC_BITS);
    while (ref->selected != (1u << CLOCKS_CLK_REF_CTRL_SRC_VALUE_XOSC_CLKSRC)) {
    }

    /* clk_sys = PLL_SYS / 1 through the aux mux (SRC still selects clk_ref here) */
    sys->div = CLK_DIV_ONE;
    hw_write_masked(&sys->ctrl,
                    CLOCKS_CLK_SYS_CTRL_AUXSRC_VALUE_CLKSRC_PLL_SYS << CLOCKS_CLK_SYS_CTRL_AUXSRC_LSB,
                    CLOCKS_CLK_SYS_CTRL_AUXSRC_BITS);
    hw_write_masked(&sys->ctrl, CLOCKS_CLK_SYS_CTRL_SRC_VALUE_CLKSRC_CLK_SYS_AUX,
                    CLOCKS_CLK_SYS_CTRL_SRC_BITS);
    while (sys->selected != (1u << CLOCKS_CLK_SYS_CTRL_SRC_VALUE_CLKSRC_CLK_SYS_AUX)) {
    }

    /* clk_peri = clk_sys: stop it, switch the aux source, start it again */
    hw_clear_bits(&peri->ctrl, CLOCKS_CLK_PERI_CTRL_ENABLE_BITS);
    peri->ctrl = CLOCKS_CLK_PERI_CTRL_AUXSRC_VALUE_CLK_SYS << CLOCKS_CLK_PERI_CTRL_AUXSRC_LSB;
    hw_set_bits(&peri->ctrl, CLOCKS_CLK_PERI_CTRL_ENABLE_BITS);

    clk_sys_hz = pll_sys_output_hz();
}

/* ------------------------------------------------------------------ UART0 */

static void gpio_set_function_uart(uint32_t pin)
{
    hw_write_masked(&padsbank0_hw->io[pin], PADS_BANK0_GPIO_IE_BITS,
                    PADS_BANK0_GPIO_IE_BITS | PADS_BANK0_GPIO_OD_BITS);
    iobank0_hw->io[pin].ctrl = GPIO_FUNC_UART << IO_BANK0_GPIO_CTRL_FUNCSEL_LSB;
}

static void uart0_init(void)
{
    gpio_set_function_uart(UART_TX_PIN);
    gpio_set_function_uart(UART_RX_PIN);
    uart0_hw->ibrd = UART_IBRD;
    uart0_hw->fbrd = UART_FBRD;
    /* writing LCR_H latches the divisors: 8 data bits, no parity, 1 stop bit, FIFOs on */
    uart0_hw->lcr_h = UART_UARTLCR_H_WLEN_8 | UART_UARTLCR_H_FEN_BITS;
    uart0_hw->cr = UART_UARTCR_UARTEN_BITS | UART_UARTCR_TXE_BITS | UART_UARTCR_RXE_BITS;
    uart_ready = 1;
}

int board_uart_getc(void)
{
    if (uart0_hw->fr & UART_UARTFR_RXFE_BITS)
        return -1;
    return (int)(uart0_hw->dr & 0xFFu);
}

void board_uart_write(const char *s, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        while (uart0_hw->fr & UART_UARTFR_TXFF_BITS) {
        }
        uart0_hw->dr = (uint8_t)s[i];
    }
}

void board_puts(const char *s)
{
    uint32_t n = 0;
    while (s[n] != '\0') {
        n++;
    }
    board_uart_write(s, n);
}

/* ------------------------------------------------------------------ cycle counter */

void board_systick_handler(void)
{
    systick_wraps++;
    board_check_stack(); /* every 2^24 cycles: an overflow is caught within ~134 ms */
}

/* Race-free 64-bit read: a wrap between the two reads of the wrap count makes us retry
 * (the SysTick exception is taken at the next instruction boundary; thread mode only). */
static uint64_t systick_cycles(void)
{
    uint32_t wraps, current;
    do {
        wraps = systick_wraps;
        current = systick_hw->cvr;
    } while (wraps != systick_wraps);
    return ((uint64_t)wraps << SYSTICK_PERIOD_BITS) + (SYSTICK_MAX - current);
}

static void systick_init(void)
{
    systick_hw->csr = 0;
    systick_hw->rvr = SYSTICK_MAX;
    systick_hw->cvr = 0;
    systick_hw->csr = SYSTICK_CSR_ENABLE_BITS | SYSTICK_CSR_TICKINT_BITS |
                      SYSTICK_CSR_CLKSOURCE_BITS;
    __asm volatile("isb" ::: "memory");
    /* rp2040js (unlike silicon) counts a wrap when SysTick starts from 0: take it as the
     * origin, so both count from here. */
    cycles_at_init = systick_cycles();
}

uint64_t board_cycles(void)
{
    return systick_cycles() - cycles_at_init;
}

uint32_t board_clk_hz(void)
{
    return clk_sys_hz;
}

/* ------------------------------------------------------------------ stack, halt, faults */

uint32_t board_stack_size(void)
{
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom);
}

uint32_t board_stack_peak(void)
{
    const uint32_t *p = __stack_bottom;
    while (p < __stack_top && *p == BOARD_STACK_PAINT) {
        p++;
    }
    return (uint32_t)((uintptr_t)__stack_top - (uintptr_t)p);
}

/* The lowest BOARD_STACK_GUARD_BYTES of the stack are a guard band that legitimate use
 * never reaches (the painted pattern stays); a descending stack that overflows writes it
 * first. Not caught: a single frame that jumps over the whole band (huge local arrays). */
int board_stack_intact(void)
{
    const uint32_t *p = __stack_bottom;
    for (uint32_t i = 0; i < BOARD_STACK_GUARD_BYTES / 4u; i++) {
        if (p[i] != BOARD_STACK_PAINT) {
            return 0;
        }
    }
    return 1;
}

static void put_hex_field(const char *key, uint32_t value);

void board_check_stack(void)
{
    if (board_stack_intact()) {
        return;
    }
    if (uart_ready) {
        put_hex_field("PRIOT FAULT pc=", 0);
        put_hex_field(" lr=", 0);
        put_hex_field(" xpsr=", 0);
        board_puts(" reason=stack_overflow\r\nPRIOT DONE status=fault\r\n");
    }
    board_halt();
}

void board_halt(void)
{
    if (uart_ready) {
        while (uart0_hw->fr & UART_UARTFR_BUSY_BITS) {
        }
    }
    systick_hw->csr = 0; /* nothing left to wake us: an emulator sees the core idle */
    for (;;) {
        __asm volatile("wfi");
    }
}

static void put_hex_field(const char *key, uint32_t value)
{
    static const char digits[] = "0123456789abcdef";
    char text[10] = {'0', 'x'};
    for (int i = 0; i < 8; i++) {
        text[2 + i] = digits[(value >> (28 - 4 * i)) & 0xfu];
    }
    board_puts(key);
    board_uart_write(text, sizeof text);
}

/* Called by HardFault_Handler (startup.S) with the exception stack frame:
 * r0, r1, r2, r3, r12, lr, pc, xpsr. */
void board_hardfault_report(const uint32_t *frame) __attribute__((noreturn));
void board_hardfault_report(const uint32_t *frame)
{
    if (uart_ready) {
        put_hex_field("PRIOT FAULT pc=", frame[6]);
        put_hex_field(" lr=", frame[5]);
        put_hex_field(" xpsr=", frame[7]);
        board_puts("\r\nPRIOT DONE status=fault\r\n");
    }
    board_halt();
}

void board_init(void)
{
    clocks_init();
    unreset_block_wait(RESETS_RESET_IO_BANK0_BITS | RESETS_RESET_PADS_BANK0_BITS |
                       RESETS_RESET_UART0_BITS);
    uart0_init();
    systick_init();
}
