/**
 * Reads a token's stdout/stderr file back for its attachment, capped: at most `maxBytes` of output are
 * kept (the head and the tail) with one marker line in between. The bytes are stored as they are (the
 * attachment is base64 of the raw bytes), so output that is not UTF-8 survives; only the marker is added.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Attachment } from '@picas/core';

export interface CapturedLog {
  data: Buffer;
  /** bytes the token wrote */
  size: number;
  truncated: boolean;
}

export function capMarker(omitted: number): Buffer {
  return Buffer.from(`\n[picas: ${omitted} bytes omitted (--max-log-bytes)]\n`);
}

/** Head and tail byte counts for a file of `size` bytes under a cap of `maxBytes`. */
export function capSplit(size: number, maxBytes: number): { head: number; tail: number; omitted: number } {
  if (size <= maxBytes) return { head: size, tail: 0, omitted: 0 };
  const head = Math.ceil(maxBytes / 2);
  const tail = maxBytes - head;
  return { head, tail, omitted: size - head - tail };
}

/**
 * Reads one log back, capped. Synchronous on purpose: it reads at most `maxBytes` (1 MiB by default)
 * from a file the command has just closed, and for the usual few bytes one open/fstat/read/close costs
 * far less than the same calls through the thread pool, once per token.
 */
export function captureLog(path: string, maxBytes: number): CapturedLog {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { data: Buffer.alloc(0), size: 0, truncated: false };
    throw err;
  }
  try {
    const { size } = fstatSync(fd);
    const split = capSplit(size, maxBytes);
    const head = readAt(fd, 0, split.head);
    if (split.omitted === 0) return { data: head, size, truncated: false };
    const tail = readAt(fd, size - split.tail, split.tail);
    return { data: Buffer.concat([head, capMarker(split.omitted), tail]), size, truncated: true };
  } finally {
    closeSync(fd);
  }
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const bytesRead = readSync(fd, buf, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buf.subarray(0, done);
}

/** An inline CouchDB attachment holding these bytes. */
export function textAttachment(data: Buffer): Attachment {
  return { content_type: 'text/plain', data: data.toString('base64') };
}
