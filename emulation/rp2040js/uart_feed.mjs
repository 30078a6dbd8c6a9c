// Stream mode for run.mjs (--uart-feed FILE, docs/STREAMING.md): the host side of the
// stop-and-wait link, inside the emulator. FILE holds chunks, each
//   u32 length (LE), u16 replies (LE), length bytes
// The chunk's bytes go to UART0 RX only while the RX FIFO has room (the PL011's 32-entry
// FIFO; rp2040js drops nothing then), starting when the firmware prints its
// "PRIOT STREAM status=ready" line; the next chunk waits until `replies` reply frames (each
// ended by 0x00 on TX) have come back. Reply frames are printed as "FRAME <hex>" lines.
// When every chunk is fed and answered, the run is done.
import { readFileSync } from 'node:fs';

export class UartFeedError extends Error {}

export function parseFeed(file) {
  const data = readFileSync(file);
  const chunks = [];
  let at = 0;
  while (at < data.length) {
    if (at + 6 > data.length) {
      throw new UartFeedError(`${file}: truncated chunk header at byte ${at}`);
    }
    const length = data.readUInt32LE(at);
    const replies = data.readUInt16LE(at + 4);
    at += 6;
    if (at + length > data.length) {
      throw new UartFeedError(`${file}: chunk at byte ${at - 6} wants ${length} bytes, ${data.length - at} left`);
    }
    chunks.push({ bytes: data.subarray(at, at + length), replies });
    at += length;
  }
  return chunks;
}

export class UartFeeder {
  constructor(chunks) {
    this.chunks = chunks;
    this.index = 0; // current chunk
    this.offset = 0; // bytes of it fed
    this.replies = 0; // reply frames since the current chunk started
    this.ready = false;
    this.frame = [];
  }

  /** A TX byte once the firmware is ready: a "FRAME <hex>" line when a frame ends. */
  onTx(byte) {
    if (byte !== 0) {
      this.frame.push(byte);
      return null;
    }
    const hex = Buffer.from(this.frame).toString('hex');
    this.frame = [];
    this.replies++;
    return `FRAME ${hex}`;
  }

  /** Feed what the RX FIFO takes; true when every chunk is fed and answered. */
  pump(uart) {
    if (!this.ready) return false;
    while (this.index < this.chunks.length) {
      const chunk = this.chunks[this.index];
      while (this.offset < chunk.bytes.length) {
        if (uart.rxFIFO.full) return false;
        uart.feedByte(chunk.bytes[this.offset++]);
      }
      if (this.replies < chunk.replies) return false;
      this.index++;
      this.offset = 0;
      this.replies = 0;
    }
    return true;
  }
}
