/* Second-stage boot loader: the first 256 bytes of flash (252 bytes of code + CRC32).
 * The RP2040 bootrom copies it to SRAM (0x20041f00), checks the CRC and calls it with
 * lr == 0. It sets the flash interface (SSI, datasheet 4.10) to standard-SPI 03h reads
 * so the whole flash appears at 0x10000000 (XIP), then enters the image through its
 * vector table at 0x10000100. Position independent: PC-relative literals only. */

    .syntax unified
    .cpu cortex-m0plus
    .thumb

#define XIP_BASE            0x10000000
#define XIP_SSI_BASE        0x18000000
#define SSI_CTRLR0_OFFSET   0x00
#define SSI_CTRLR1_OFFSET   0x04
#define SSI_SSIENR_OFFSET   0x08
#define SSI_BAUDR_OFFSET    0x14
#define SSI_SPI_CTRLR0_OFFSET 0xf4
#define PPB_VTOR            0xe000ed08
#define VECTOR_TABLE        (XIP_BASE + 0x100)

/* SSI clock = clk_sys / 4 (must be even) */
#define FLASH_SPI_CLKDIV    4
/* CTRLR0: SPI_FRF (22:21) = 0 standard SPI, DFS_32 (20:16) = 31 (32-bit frames),
 * TMOD (9:8) = 3 EEPROM read (send command + address, then receive) */
#define CTRLR0_XIP          ((0 << 21) | (31 << 16) | (3 << 8))
/* SPI_CTRLR0: XIP_CMD (31:24) = 0x03 read, INST_L (9:8) = 2 (8-bit instruction),
 * ADDR_L (5:2) = 6 (24-bit address), TRANS_TYPE (1:0) = 0 (command and address serial) */
#define SPI_CTRLR0_XIP      ((0x03 << 24) | (2 << 8) | (6 << 2) | 0)

    .section .text
    .global boot2_entry
    .type boot2_entry, %function
    .thumb_func
boot2_entry:
    push {lr}
    ldr r3, =XIP_SSI_BASE
    movs r1, #0
    str r1, [r3, #SSI_SSIENR_OFFSET]     /* disable SSI to configure it */
    movs r1, #FLASH_SPI_CLKDIV
    str r1, [r3, #SSI_BAUDR_OFFSET]
    ldr r1, =CTRLR0_XIP
    str r1, [r3, #SSI_CTRLR0_OFFSET]
    ldr r1, =SPI_CTRLR0_XIP
    ldr r0, =(XIP_SSI_BASE + SSI_SPI_CTRLR0_OFFSET)
    str r1, [r0]
    movs r1, #0
    str r1, [r3, #SSI_CTRLR1_OFFSET]     /* NDF = 0: one 32-bit frame per read */
    movs r1, #1
    str r1, [r3, #SSI_SSIENR_OFFSET]     /* enable: XIP reads now issue 03h commands */

    /* lr != 0: called as a function (e.g. after flash programming): return. */
    pop {r0}
    cmp r0, #0
    beq enter_image
    bx r0
enter_image:
    ldr r0, =VECTOR_TABLE
    ldr r1, =PPB_VTOR
    str r0, [r1]
    ldmia r0, {r0, r1}                   /* initial MSP, reset vector */
    msr msp, r0
    bx r1

    .ltorg
