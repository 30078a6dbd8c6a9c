#include "lineout.h"

#include "board.h"

/* Decimal by repeated subtraction of powers of ten: no division helper needed. */
static const uint64_t POW10[] = {
    10000000000000000000ull, 1000000000000000000ull, 100000000000000000ull,
    10000000000000000ull, 1000000000000000ull, 100000000000000ull, 10000000000000ull,
    1000000000000ull, 100000000000ull, 10000000000ull, 1000000000ull, 100000000ull,
    10000000ull, 1000000ull, 100000ull, 10000ull, 1000ull, 100ull, 10ull, 1ull,
};
#define MAX_DIGITS (sizeof POW10 / sizeof POW10[0])

static void put_key(const char *key)
{
    board_puts(" ");
    board_puts(key);
    board_puts("=");
}

static void put_decimal(uint64_t v)
{
    char text[MAX_DIGITS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < MAX_DIGITS; i++) {
        char digit = '0';
        while (v >= POW10[i]) {
            v -= POW10[i];
            digit++;
        }
        if (n > 0 || digit != '0' || i == MAX_DIGITS - 1) {
            text[n++] = digit;
        }
    }
    board_uart_write(text, n);
}

void out_begin(const char *record)
{
    board_puts("PRIOT ");
    board_puts(record);
}

void out_u32(const char *key, uint32_t v)
{
    put_key(key);
    put_decimal(v);
}

void out_u64(const char *key, uint64_t v)
{
    put_key(key);
    put_decimal(v);
}

void out_i32(const char *key, int32_t v)
{
    put_key(key);
    if (v < 0) {
        board_puts("-");
        put_decimal(0u - (uint32_t)v);
    } else {
        put_decimal((uint32_t)v);
    }
}

void out_hex(const char *key, uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    char text[10] = {'0', 'x'};
    for (uint32_t i = 0; i < 8; i++) {
        text[2 + i] = digits[(v >> (28 - 4 * i)) & 0xfu];
    }
    put_key(key);
    board_uart_write(text, sizeof text);
}

void out_str(const char *key, const char *v)
{
    put_key(key);
    board_puts(v);
}

void out_end(void)
{
    board_puts("\r\n");
}
