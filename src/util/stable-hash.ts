/**
 * A 32-bit hash of a string that every process, machine and version computes alike, for splitting
 * work into shards: FNV-1a over the UTF-8 bytes, then murmur3's finalizer so every bit of the input
 * reaches the low bits a modulo keeps (plain FNV-1a's lowest bit is the parity of the bytes).
 */
export function stableHash(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
