// The bytes of one raw message as the parser reads them: from its stored file, or from memory when
// the listener or an IMAP fetch still holds them. Reading from memory lets parsing start while the
// file is still being fsynced (src/ingest/pipeline.ts), and spares the parser thread its five
// opens of the file; the file stays the record either way. Every reader of a raw message in the
// parser (header block, fingerprint, report scan, body) goes through this one interface.
import fsp from 'node:fs/promises';
import fs from 'node:fs';
import { Readable } from 'node:stream';

export interface RawSource {
  /** the message's size in bytes */
  size(): Promise<number>;
  /** up to `length` bytes from `position` (fewer at the end) */
  read(position: number, length: number): Promise<Buffer>;
  /**
   * Calls `each` with the bytes from `start` up to `end` (exclusive), `chunk` bytes at a time, the
   * next read only after `each` returned: the chunk's memory is reused (a file is read through one
   * buffer), so a 50 MB body costs `chunk` bytes, not 50 MB of short-lived Buffers that V8 would
   * collect only after they had raised the process's RSS. `each` must not keep the chunk.
   */
  eachChunk(start: number, end: number, chunk: number, each: (bytes: Buffer) => void): Promise<void>;
  /** the bytes from `start` to the end as a stream (for the MIME parser) */
  stream(start: number): Readable;
}

/** The MIME parser's chunk size. */
const STREAM_CHUNK = 64 * 1024;

export function fileSource(file: string): RawSource {
  return {
    async size() {
      return (await fsp.stat(file)).size;
    },
    async read(position, length) {
      const handle = await fsp.open(file, 'r');
      try {
        const buf = Buffer.alloc(length);
        let got = 0;
        while (got < length) {
          const { bytesRead } = await handle.read(buf, got, length - got, position + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return buf.subarray(0, got);
      } finally {
        await handle.close();
      }
    },
    async eachChunk(start, end, chunk, each) {
      const handle = await fsp.open(file, 'r');
      try {
        const buffer = Buffer.allocUnsafe(chunk);
        for (let position = start; position < end;) {
          const { bytesRead } = await handle.read(buffer, 0, Math.min(chunk, end - position), position);
          if (bytesRead === 0) break;
          each(buffer.subarray(0, bytesRead));
          position += bytesRead;
        }
      } finally {
        await handle.close();
      }
    },
    stream(start) {
      return fs.createReadStream(file, { start, highWaterMark: STREAM_CHUNK });
    },
  };
}

export function memorySource(bytes: Uint8Array): RawSource {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    async size() {
      return buf.length;
    },
    async read(position, length) {
      return buf.subarray(position, Math.min(buf.length, position + length));
    },
    async eachChunk(start, end, chunk, each) {
      for (const bytes of chunks(buf, start, Math.min(end, buf.length), chunk)) each(bytes);
    },
    stream(start) {
      return Readable.from(chunks(buf, start, buf.length, STREAM_CHUNK), { objectMode: false });
    },
  };
}

function* chunks(buf: Buffer, start: number, stop: number, size: number): Generator<Buffer> {
  for (let at = start; at < stop; at += size) yield buf.subarray(at, Math.min(stop, at + size));
}
