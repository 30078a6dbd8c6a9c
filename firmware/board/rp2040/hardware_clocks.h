/* Crystal oscillator, system PLL and clock generators (RP2040 datasheet 2.15-2.18). */
#ifndef PRIOT_HARDWARE_CLOCKS_H
#define PRIOT_HARDWARE_CLOCKS_H
#include "hardware_base.h"

/* ---- XOSC */
typedef struct {
    io_rw_32 ctrl;
    io_ro_32 status;
    io_rw_32 dormant;
    io_rw_32 startup;
} xosc_hw_t;
#define xosc_hw ((xosc_hw_t *)XOSC_BASE)

#define XOSC_CTRL_FREQ_RANGE_VALUE_1_15MHZ 0xaa0u
#define XOSC_CTRL_ENABLE_LSB               12u
#define XOSC_CTRL_ENABLE_VALUE_ENABLE      0xfabu
#define XOSC_STATUS_STABLE_BITS            0x80000000u
#define XOSC_STARTUP_DELAY_BITS            0x3fffu

/* ---- PLL */
typedef struct {
    io_rw_32 cs;
    io_rw_32 pwr;
    io_rw_32 fbdiv_int;
    io_rw_32 prim;
} pll_hw_t;
#define pll_sys_hw ((pll_hw_t *)PLL_SYS_BASE)

#define PLL_CS_LOCK_BITS         0x80000000u
#define PLL_CS_REFDIV_BITS       0x3fu
#define PLL_PWR_PD_BITS          0x01u
#define PLL_PWR_POSTDIVPD_BITS   0x08u
#define PLL_PWR_VCOPD_BITS       0x20u
#define PLL_FBDIV_INT_BITS       0xfffu
#define PLL_PRIM_POSTDIV1_LSB    16u
#define PLL_PRIM_POSTDIV2_LSB    12u
#define PLL_PRIM_POSTDIV_BITS    0x7u

/* ---- CLOCKS */
typedef struct {
    io_rw_32 ctrl;
    io_rw_32 div;
    io_ro_32 selected;
} clock_hw_t;

enum clock_index {
    clk_gpout0, clk_gpout1, clk_gpout2, clk_gpout3,
    clk_ref, clk_sys, clk_peri, clk_usb, clk_adc, clk_rtc,
    CLK_COUNT
};

typedef struct {
    clock_hw_t clk[CLK_COUNT];
    io_rw_32 resus_ctrl;
    io_ro_32 resus_status;
} clocks_hw_t;
#define clocks_hw ((clocks_hw_t *)CLOCKS_BASE)

#define CLOCKS_CLK_REF_CTRL_SRC_BITS                      0x3u
#define CLOCKS_CLK_REF_CTRL_SRC_VALUE_XOSC_CLKSRC         0x2u
#define CLOCKS_CLK_SYS_CTRL_SRC_BITS                      0x1u
#define CLOCKS_CLK_SYS_CTRL_SRC_VALUE_CLKSRC_CLK_SYS_AUX  0x1u
#define CLOCKS_CLK_SYS_CTRL_AUXSRC_LSB                    5u
#define CLOCKS_CLK_SYS_CTRL_AUXSRC_BITS                   0xe0u
#define CLOCKS_CLK_SYS_CTRL_AUXSRC_VALUE_CLKSRC_PLL_SYS   0x0u
#define CLOCKS_CLK_PERI_CTRL_ENABLE_BITS                  0x800u
#define CLOCKS_CLK_PERI_CTRL_AUXSRC_LSB                   5u
#define CLOCKS_CLK_PERI_CTRL_AUXSRC_VALUE_CLK_SYS         0x0u
#define CLOCKS_CLK_DIV_INT_LSB                            8u

#endif
