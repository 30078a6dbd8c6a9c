/* Board smoke test. The word at PRIOT_CONFIG_ADDR (where the run-config blob goes)
 * selects the behaviour: "FAUT" -> deliberate HardFault, "HANG" -> spin silently,
 * anything else (erased flash, zeros) -> measure a busy loop and finish normally. */
#include "board.h"
#include "flash_layout.h"
#include "lineout.h"

#define MODE_FAULT 0x54554146u /* bytes 'F' 'A' 'U' 'T' read as a little-endian word */
#define MODE_HANG  0x474E4148u /* 'H' 'A' 'N' 'G' */
#define MODE_DEEP  0x50454544u /* 'D' 'E' 'E' 'P': recurse past the stack, then wait */

/* Each level keeps a 64-byte frame alive; 256 levels need ~20 KB, the stack has 8 KB. */
static uint32_t __attribute__((noinline)) recurse(volatile uint32_t *prev, uint32_t depth)
{
    volatile uint32_t frame[16];
    frame[0] = prev ? prev[0] + 1u : 1u;
    return depth ? recurse(frame, depth - 1u) + frame[0] : frame[0];
}

/* subs (1 cycle) + taken bne (2 cycles): 3 cycles per iteration on the Cortex-M0+. */
#define BUSY_LOOP_ITERATIONS 1000000u

/* In SRAM (no flash wait states on silicon either), so its cycle count is exact. */
__attribute__((noinline, section(".ramfunc.busy_loop"))) static void busy_loop(uint32_t n)
{
    __asm volatile("1: subs %0, %0, #1\n"
                   "   bne 1b"
                   : "+l"(n)
                   :
                   : "cc");
}

int main(void)
{
    board_init();
    out_begin("BOOT");
    out_u32("fw", 1);
    out_u32("clk_hz", board_clk_hz());
    out_end();

    uint32_t mode = *(const volatile uint32_t *)PRIOT_CONFIG_ADDR;
    if (mode == MODE_FAULT) {
        __asm volatile("udf #0"); /* undefined instruction: HardFault */
    }
    if (mode == MODE_HANG) {
        for (;;) {
        }
    }
    if (mode == MODE_DEEP) {
        out_begin("DEEP");
        out_u32("sum", recurse(0, 256u));
        out_end();
        for (;;) { /* the SysTick check reports the overflow */
        }
    }

    uint64_t start = board_cycles();
    busy_loop(BUSY_LOOP_ITERATIONS);
    uint64_t loop_cycles = board_cycles() - start;

    out_begin("SELFTEST");
    out_u32("loop_iterations", BUSY_LOOP_ITERATIONS);
    out_u64("loop_cycles", loop_cycles);
    out_u64("cycles", board_cycles());
    out_u32("stack_peak", board_stack_peak());
    out_u32("stack_size", board_stack_size());
    out_end();
    out_begin("DONE");
    out_str("status", "ok");
    out_end();
    board_halt();
}
