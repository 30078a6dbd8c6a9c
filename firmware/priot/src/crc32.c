/* zlib CRC-32, nibble-wise with a 16-entry table. */
#include "priot/crc32.h"

static const uint32_t crc_nibble[16] = {
    0x00000000u, 0x1DB71064u, 0x3B6E20C8u, 0x26D930ACu,
    0x76DC4190u, 0x6B6B51F4u, 0x4DB26158u, 0x5005713Cu,
    0xEDB88320u, 0xF00F9344u, 0xD6D6A3E8u, 0xCB61B38Cu,
    0x9B64C2B0u, 0x86D3D2D4u, 0xA00AE278u, 0xBDBDF21Cu,
};

static uint32_t crc_byte(uint32_t c, uint32_t b)
{
    c ^= b;
    c = (c >> 4) ^ crc_nibble[c & 15u];
    c = (c >> 4) ^ crc_nibble[c & 15u];
    return c;
}

uint32_t priot_crc32(uint32_t crc, const uint8_t *data, uint32_t n)
{
    uint32_t c = ~crc;
    while (n--)
        c = crc_byte(c, *data++);
    return ~c;
}

uint32_t priot_crc32_i16le(uint32_t crc, const int16_t *v, uint32_t n)
{
    uint32_t c = ~crc;
    while (n--) {
        uint32_t u = (uint16_t)*v++;
        c = crc_byte(c, u & 0xFFu);
        c = crc_byte(c, u >> 8);
    }
    return ~c;
}
