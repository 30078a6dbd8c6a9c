/* Line-protocol printer (docs/PROTOCOL.md): one record per line,
 *   out_begin("EVAL"); out_str("phase", "after"); out_u32("correct", 250); out_end();
 * prints "PRIOT EVAL phase=after correct=250\r\n". Keys and string values must not
 * contain spaces. */
#ifndef PRIOT_LINEOUT_H
#define PRIOT_LINEOUT_H
#include <stdint.h>

void out_begin(const char *record);
void out_u32(const char *key, uint32_t v);
void out_u64(const char *key, uint64_t v);
void out_i32(const char *key, int32_t v);
void out_hex(const char *key, uint32_t v); /* 0x%08x */
void out_str(const char *key, const char *v);
void out_end(void);

#endif
