/**
 * UTF-8 validation that costs almost nothing when the input is clean: readers check each buffer
 * as it arrives with the native `isUtf8`, and only documents that touch a buffer that failed
 * (really invalid, or a character cut by the buffer's edge) are checked one by one.
 */
import { isUtf8 } from 'node:buffer';

export class Utf8Guard {
  /** Absolute end offset of the last buffer that did not validate whole. */
  private dirtyEnd = -1;

  /** Records a buffer starting at absolute offset `base`. */
  see(buf: Buffer, base: number): void {
    if (!isUtf8(buf)) this.dirtyEnd = base + buf.length;
  }

  /** Whether the bytes of a value that starts at absolute `start` (and ends in the latest buffer) are valid. */
  valid(bytes: Buffer, start: number): boolean {
    return start >= this.dirtyEnd || isUtf8(bytes);
  }
}

/** Index of the first byte that is not part of a valid UTF-8 sequence, or -1 (error path only). */
export function firstInvalidByte(buf: Buffer): number {
  let i = 0;
  const n = buf.length;
  while (i < n) {
    const c = buf[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let length: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) [length, min] = [2, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [length, min] = [3, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [length, min] = [4, 0x10000];
    else return i;
    if (i + length > n) return i;
    let code = c & (0xff >> (length + 1));
    for (let k = 1; k < length; k++) {
      const d = buf[i + k]!;
      if ((d & 0xc0) !== 0x80) return i;
      code = (code << 6) | (d & 0x3f);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    if (code < min || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return i;
    i += length;
  }
  return -1;
}

/** Absolute offset of the first invalid byte of bytes that start at absolute offset `start`. */
export function invalidOffset(bytes: Buffer, start: number): number {
  return start + Math.max(0, firstInvalidByte(bytes));
}

export const notUtf8Reason = 'not valid UTF-8';

/** `not valid UTF-8 at byte N` for bytes starting at absolute offset `start`. */
export function invalidUtf8Reason(bytes: Buffer, start: number): string {
  return `${notUtf8Reason} at byte ${invalidOffset(bytes, start)}`;
}

/**
 * The `_id` of a document whose bytes are not all valid, when it can be told exactly: decoded with
 * replacement characters, and kept only when its own bytes were not among those replaced.
 */
export function idOfDamaged(bytes: Buffer): string | undefined {
  try {
    const value = JSON.parse(bytes.toString('utf8')) as { _id?: unknown };
    const id = value?._id;
    return typeof id === 'string' && !id.includes('\ufffd') ? id : undefined;
  } catch {
    return undefined;
  }
}
