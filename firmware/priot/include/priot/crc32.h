/* zlib's CRC-32 (reflected polynomial 0xEDB88320, init/final xor 0xFFFFFFFF), so that
 * priot_crc32(0, p, n) == zlib.crc32(p) and chaining works like zlib.crc32(p, crc).
 * Nibble-wise with a 16-entry table (64 bytes of rodata). */
#ifndef PRIOT_CRC32_H
#define PRIOT_CRC32_H
#include <stdint.h>

uint32_t priot_crc32(uint32_t crc, const uint8_t *data, uint32_t n);

/* CRC of int16 values fed as little-endian byte pairs (the score checksum of
 * docs/SEMANTICS.md), independent of the host byte order. */
uint32_t priot_crc32_i16le(uint32_t crc, const int16_t *v, uint32_t n);

#endif
