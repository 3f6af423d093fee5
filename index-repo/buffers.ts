/** A Node Buffer over the same memory as `bytes` (a Uint8Array, say one that came from another thread): no copy. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * The memory of `bytes` when `bytes` owns all of it and is at least `atLeast` bytes long (so that
 * it can be moved to another thread, or freed, without touching anything else); else null. Node's
 * small Buffers (under half of `Buffer.poolSize`, 8 KiB) are slices of a shared pool: ask for at
 * least 8 KiB.
 */
export function ownedMemory(bytes: Uint8Array, atLeast: number): ArrayBuffer | null {
  const memory = bytes.buffer;
  if (!(memory instanceof ArrayBuffer) || memory.detached) return null;
  return bytes.byteOffset === 0 && bytes.byteLength === memory.byteLength && bytes.byteLength >= atLeast ? memory : null;
}
