/* Flash erase / program through the RP2040 boot ROM (datasheet 2.8.3: the ROM function
 * table at 0x14, rom_table_lookup at 0x18, two-letter codes; 2.8.3.1.3 the flash access
 * functions). While XIP is off nothing may run from or read flash, so the sequence runs
 * in SRAM (.ramfunc) with interrupts off, one sector or page at a time. The emulator
 * (emulation/rp2040js/flash_rom.mjs) provides the same functions and faults when code
 * runs from flash while XIP is off. */
#include <stdint.h>
#include "board.h"
#include "flash_layout.h"

#define ROM_FUNC_TABLE_PTR   0x00000014u   /* u16: the public function table */
#define ROM_TABLE_LOOKUP_PTR 0x00000018u   /* u16: rom_table_lookup (Thumb address) */
#define ROM_CODE(a, b)       ((uint32_t)(a) | ((uint32_t)(b) << 8))
#define SECTOR               4096u
#define PAGE                 256u
#define SECTOR_ERASE_CMD     0x20u         /* 4 KiB sector erase */

typedef void *(*rom_table_lookup_fn)(const uint16_t *table, uint32_t code);
typedef void (*rom_void_fn)(void);
typedef void (*rom_erase_fn)(uint32_t addr, uint32_t count, uint32_t block_size,
                             uint8_t block_cmd);
typedef void (*rom_program_fn)(uint32_t addr, const uint8_t *data, uint32_t count);

typedef struct {
    rom_void_fn connect, exit_xip, flush_cache, enter_cmd_xip;
    rom_erase_fn erase;
    rom_program_fn program;
} rom_flash_t;

/* A halfword of the ROM (address laundered through asm: GCC treats small constant
 * addresses as out-of-bounds pointers). */
static uint16_t rom_hword(uint32_t addr)
{
    uintptr_t a = addr;
    __asm volatile("" : "+r"(a));
    return *(const volatile uint16_t *)a;
}

static void *rom_func(uint32_t code)
{
    rom_table_lookup_fn lookup = (rom_table_lookup_fn)(uintptr_t)rom_hword(ROM_TABLE_LOOKUP_PTR);
    return lookup((const uint16_t *)(uintptr_t)rom_hword(ROM_FUNC_TABLE_PTR), code);
}

static int rom_flash(rom_flash_t *f)
{
    f->connect = (rom_void_fn)rom_func(ROM_CODE('I', 'F'));
    f->exit_xip = (rom_void_fn)rom_func(ROM_CODE('E', 'X'));
    f->erase = (rom_erase_fn)rom_func(ROM_CODE('R', 'E'));
    f->program = (rom_program_fn)rom_func(ROM_CODE('R', 'P'));
    f->flush_cache = (rom_void_fn)rom_func(ROM_CODE('F', 'C'));
    f->enter_cmd_xip = (rom_void_fn)rom_func(ROM_CODE('C', 'X'));
    return f->connect && f->exit_xip && f->erase && f->program && f->flush_cache &&
                   f->enter_cmd_xip
               ? 0
               : -1;
}

/* The XIP-off window: SRAM only (this function and the ROM), interrupts off. data == 0:
 * erase one sector at offset; else program one page from data (in SRAM). */
__attribute__((section(".ramfunc"), noinline)) static void flash_op(const rom_flash_t *f,
                                                                   uint32_t offset,
                                                                   const uint8_t *data)
{
    __asm volatile("cpsid i" ::: "memory");
    f->connect();
    f->exit_xip();
    if (data)
        f->program(offset, data, PAGE);
    else
        f->erase(offset, SECTOR, SECTOR, SECTOR_ERASE_CMD);
    f->flush_cache();
    f->enter_cmd_xip();
    __asm volatile("cpsie i" ::: "memory");
}

/* The writable part of flash: everything past the firmware region. */
static int writable(uint32_t offset, uint32_t n, uint32_t unit)
{
    const uint32_t first = PRIOT_FIRMWARE_MAX, end = 2u * 1024u * 1024u;
    return offset % unit == 0u && n % unit == 0u && n != 0u && offset >= first &&
           offset <= end && n <= end - offset;
}

int board_flash_erase(uint32_t offset, uint32_t n)
{
    rom_flash_t f;
    uint32_t off;
    if (!writable(offset, n, SECTOR) || rom_flash(&f))
        return -1;
    for (off = offset; off < offset + n; off += SECTOR)
        flash_op(&f, off, (const uint8_t *)0);
    return 0;
}

int board_flash_program(uint32_t offset, const uint8_t *data, uint32_t n)
{
    rom_flash_t f;
    uint32_t i;
    if (!writable(offset, n, PAGE) || !data || rom_flash(&f))
        return -1;
    if ((uintptr_t)data < 0x20000000u)   /* flash (or ROM) cannot be read with XIP off */
        return -1;
    for (i = 0; i < n; i += PAGE)
        flash_op(&f, offset + i, data + i);
    return 0;
}
