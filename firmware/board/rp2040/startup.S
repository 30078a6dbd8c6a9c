/* Vector table and reset handler for the RP2040 image (Cortex-M0+, ARMv6-M Thumb).
 * boot2 (or the emulator runner) sets VTOR to the table, loads MSP from word 0 and jumps
 * to word 1. Symbols __stack_*, __ramfunc_*, __data_*, __bss_* come from rp2040.ld. */
#include "board_startup.h"

    .syntax unified
    .cpu cortex-m0plus
    .thumb

#define RP2040_NUM_IRQS 26

    .section .vectors, "a"
    .align 2
    .global __vectors
__vectors:
    .word __stack_top
    .word Reset_Handler
    .word HardFault_Handler        /* NMI: not expected, reported like a fault */
    .word HardFault_Handler
    .rept 7
    .word 0                        /* reserved */
    .endr
    .word HardFault_Handler        /* SVCall */
    .word 0
    .word 0
    .word HardFault_Handler        /* PendSV */
    .word board_systick_handler
    .rept RP2040_NUM_IRQS
    .word HardFault_Handler        /* no interrupt is enabled: any IRQ is a bug */
    .endr

    .text

/* Paint the stack, copy code and data that run from SRAM, zero .bss, run main. */
    .global Reset_Handler
    .type Reset_Handler, %function
    .thumb_func
Reset_Handler:
    ldr r0, =__stack_bottom
    ldr r1, =__stack_top
    ldr r2, =BOARD_STACK_PAINT
    bl fill_words

    ldr r0, =__ramfunc_load
    ldr r1, =__ramfunc_start
    ldr r2, =__ramfunc_end
    bl copy_words
    ldr r0, =__data_load
    ldr r1, =__data_start
    ldr r2, =__data_end
    bl copy_words

    ldr r0, =__bss_start
    ldr r1, =__bss_end
    movs r2, #0
    bl fill_words

    bl main
    bl board_halt
    .size Reset_Handler, . - Reset_Handler

/* fill_words: r0 = start, r1 = end (word aligned), r2 = value. Uses no stack. */
    .type fill_words, %function
    .thumb_func
fill_words:
    cmp r0, r1
    bhs 1f
    str r2, [r0]
    adds r0, #4
    b fill_words
1:  bx lr
    .size fill_words, . - fill_words

/* copy_words: r0 = source, r1 = destination, r2 = destination end. Uses no stack. */
    .type copy_words, %function
    .thumb_func
copy_words:
    cmp r1, r2
    bhs 1f
    ldr r3, [r0]
    str r3, [r1]
    adds r0, #4
    adds r1, #4
    b copy_words
1:  bx lr
    .size copy_words, . - copy_words

/* Pass the stacked exception frame (on MSP or PSP, per EXC_RETURN bit 2) to C. */
    .global HardFault_Handler
    .type HardFault_Handler, %function
    .thumb_func
HardFault_Handler:
    movs r0, #4
    mov r1, lr
    tst r0, r1
    bne 1f
    mrs r0, msp
    b 2f
1:  mrs r0, psp
2:  ldr r1, =board_hardfault_report
    bx r1
    .size HardFault_Handler, . - HardFault_Handler
