import fs from 'node:fs';
import zlib from 'node:zlib';
import type { ObjectType } from './git-object.ts';
import { Lru } from './lru.ts';

const TYPES: Record<number, ObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };
const OFS_DELTA = 6;
const REF_DELTA = 7;

/** A pack whose index cannot be read (cut short by a crash): never one Git or this process wrote whole. */
export class BrokenPackError extends Error {
  override name = 'BrokenPackError';
}

/**
 * Reads single objects out of one packfile through its `.idx`, with positioned reads: the pack
 * is never loaded whole (isomorphic-git loads every pack it reads into memory, which at 10,000
 * versions costs hundreds of megabytes and fails past 2 GiB).
 */
export class PackReader {
  readonly packFile: string;
  private readonly idx: Buffer;
  private readonly count: number;
  /** Read with positioned synchronous reads: a small read from the page cache costs less than a trip through the thread pool. */
  private readonly fd: number;
  /** Objects read at an offset, as delta bases: a chain shared by many objects is read once. */
  private readonly bases = new Lru<number, { type: ObjectType; content: Buffer }>(8 * 1024 * 1024, (o) => o.content.length + 64);

  private constructor(packFile: string, idx: Buffer, fd: number) {
    this.packFile = packFile;
    this.idx = idx;
    this.fd = fd;
    if (idx.length < 8 + 256 * 4 + 40 || idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) throw new BrokenPackError(`${packFile}: not a version 2 pack index`);
    this.count = idx.readUInt32BE(8 + 255 * 4);
    if (idx.length < 8 + 256 * 4 + this.count * 28 + 40) throw new BrokenPackError(`${packFile}: its index is cut short`);
  }

  /** Opens a pack; `idx` spares reading its index when the caller has just written it. */
  static open(packFile: string, idx?: Buffer): PackReader {
    const index = idx ?? fs.readFileSync(packFile.replace(/\.pack$/, '.idx'));
    const fd = fs.openSync(packFile, 'r');
    try {
      return new PackReader(packFile, index, fd);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /** The offset of an object in the pack, or null when the pack does not hold it. */
  offsetOf(oid: string): number | null {
    const want = Buffer.from(oid, 'hex');
    const first = want[0] as number;
    let low = first === 0 ? 0 : this.idx.readUInt32BE(8 + (first - 1) * 4);
    let high = this.idx.readUInt32BE(8 + first * 4);
    const names = 8 + 256 * 4;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const cmp = want.compare(this.idx, names + mid * 20, names + mid * 20 + 20);
      if (cmp === 0) return this.offsetAt(mid);
      if (cmp < 0) high = mid;
      else low = mid + 1;
    }
    return null;
  }

  private offsetAt(position: number): number {
    const offsets = 8 + 256 * 4 + this.count * 24;
    const small = this.idx.readUInt32BE(offsets + position * 4);
    if ((small & 0x80000000) === 0) return small;
    const large = offsets + this.count * 4 + (small & 0x7fffffff) * 8;
    return Number(this.idx.readBigUInt64BE(large));
  }

  /** The object at `offset`, with deltas resolved. `resolveRef` finds a REF_DELTA's base anywhere. */
  async readAt(offset: number, resolveRef: (oid: string) => Promise<{ type: ObjectType; content: Buffer }>): Promise<{ type: ObjectType; content: Buffer }> {
    const head = Buffer.alloc(32);
    fs.readSync(this.fd, head, 0, 32, offset);
    let at = 0;
    let byte = head[at++] as number;
    const kind = (byte >> 4) & 7;
    let size = byte & 15;
    let shift = 4;
    while (byte & 0x80) {
      byte = head[at++] as number;
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    }
    let base: { type: ObjectType; content: Buffer } | null = null;
    if (kind === OFS_DELTA) {
      byte = head[at++] as number;
      let distance = byte & 0x7f;
      while (byte & 0x80) {
        byte = head[at++] as number;
        distance = (distance + 1) * 128 + (byte & 0x7f);
      }
      base = await this.readBase(offset - distance, resolveRef);
    } else if (kind === REF_DELTA) {
      base = await resolveRef(head.subarray(at, at + 20).toString('hex'));
      at += 20;
    } else if (!TYPES[kind]) {
      throw new Error(`${this.packFile}: unknown object kind ${kind} at ${offset}`);
    }
    const data = this.inflateAt(offset + at, size);
    if (base) return { type: base.type, content: applyDelta(base.content, data) };
    return { type: TYPES[kind] as ObjectType, content: data };
  }

  private async readBase(offset: number, resolveRef: (oid: string) => Promise<{ type: ObjectType; content: Buffer }>): Promise<{ type: ObjectType; content: Buffer }> {
    const cached = this.bases.get(offset);
    if (cached) return cached;
    const base = await this.readAt(offset, resolveRef);
    this.bases.set(offset, base);
    return base;
  }

  private inflateAt(position: number, size: number): Buffer {
    // Deflate adds at most 5 bytes per 16 KiB block plus a small header and trailer.
    const length = size + Math.ceil(size / 16384) * 5 + 64;
    const compressed = Buffer.alloc(length);
    const bytesRead = fs.readSync(this.fd, compressed, 0, length, position);
    const data = zlib.inflateSync(compressed.subarray(0, bytesRead));
    if (data.length !== size) throw new Error(`${this.packFile}: object at ${position} inflates to ${data.length} bytes, not ${size}`);
    return data;
  }
}

function readVarint(delta: Buffer, start: number): [number, number] {
  let value = 0;
  let shift = 0;
  let at = start;
  let byte: number;
  do {
    byte = delta[at++] as number;
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
  } while (byte & 0x80);
  return [value, at];
}

/** Applies a Git delta (copy and insert instructions) to its base. */
export function applyDelta(base: Buffer, delta: Buffer): Buffer {
  let [baseSize, at] = readVarint(delta, 0);
  if (baseSize !== base.length) throw new Error('delta base size mismatch');
  let resultSize: number;
  [resultSize, at] = readVarint(delta, at);
  const out = Buffer.alloc(resultSize);
  let written = 0;
  while (at < delta.length) {
    const op = delta[at++] as number;
    if (op & 0x80) {
      let copyOffset = 0;
      let copySize = 0;
      for (let bit = 0; bit < 4; bit++) if (op & (1 << bit)) copyOffset += (delta[at++] as number) * 2 ** (8 * bit);
      for (let bit = 0; bit < 3; bit++) if (op & (0x10 << bit)) copySize += (delta[at++] as number) * 2 ** (8 * bit);
      if (copySize === 0) copySize = 0x10000;
      written += base.copy(out, written, copyOffset, copyOffset + copySize);
    } else if (op > 0) {
      written += delta.copy(out, written, at, at + op);
      at += op;
    } else {
      throw new Error('delta with a zero instruction');
    }
  }
  if (written !== resultSize) throw new Error('delta result size mismatch');
  return out;
}
