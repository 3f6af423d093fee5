import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { EncodedObject, ObjectType } from './git-object.ts';

const TYPE_CODES: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };

function entryHeader(type: ObjectType, size: number): Buffer {
  const bytes: number[] = [];
  let byte = (TYPE_CODES[type] << 4) | (size & 15);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes.push(byte | 0x80);
    byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  bytes.push(byte);
  return Buffer.from(bytes);
}

const SAMPLE = 4096;
/**
 * A tree this large (a folder of thousands of authors, rewritten by every commit under it) is
 * stored: deflating it would cost more than the rest of the commit, and the periodic repack
 * stores it as a delta against its neighbour, which is what makes it small.
 */
const LARGE_TREE = 16 * 1024;
const SMALL = 1024;
const SMALL_OBJECT = { level: 1, windowBits: 10, memLevel: 2 };
const HUFFMAN_ONLY = { level: 1, strategy: zlib.constants.Z_HUFFMAN_ONLY };

/**
 * Deflates an object's content the cheapest way that loses (almost) nothing: gzip data (a bundle)
 * is stored, as deflate would only spend time on it; content whose first few kilobytes compress
 * as well with Huffman coding alone as with string matching (random-looking text, such as
 * base64) skips the matching, which on such data costs several times as much for nothing; the
 * rest (source code) gets deflate's fastest level.
 */
export function deflate(content: Buffer): Buffer {
  // Most objects of a commit are small (trees, the commit, gren.json): a window no larger than
  // the content makes zlib's set-up, which costs more than the compression itself, cheap.
  if (content.length <= SMALL) return zlib.deflateSync(content, SMALL_OBJECT);
  if (content[0] === 0x1f && content[1] === 0x8b) return zlib.deflateSync(content, { level: 0 });
  if (content.length > SAMPLE * 2) {
    const sample = content.subarray(0, SAMPLE);
    const matched = zlib.deflateSync(sample, { level: 1 }).length;
    const huffman = zlib.deflateSync(sample, HUFFMAN_ONLY).length;
    if (huffman <= matched * 1.05) return zlib.deflateSync(content, HUFFMAN_ONLY);
  }
  return zlib.deflateSync(content, { level: 1 });
}

/** A packfile and its version 2 index, as Git writes them; `name` is the pack's checksum. */
export type EncodedPack = { name: string; pack: Buffer; idx: Buffer };

/**
 * Encodes objects as one packfile (each object whole, no deltas) with its `.idx`. A commit's
 * objects stored as one pack cost two flushed files instead of one per object; the periodic
 * repack folds these small packs together.
 */
export function encodePack(objects: EncodedObject[]): EncodedPack {
  const unique = [...new Map(objects.map((o) => [o.oid, o])).values()];
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(unique.length, 8);
  const parts: Buffer[] = [header];
  const entries: Array<{ oid: string; offset: number; crc: number }> = [];
  let offset = header.length;
  for (const object of unique) {
    const nul = object.wrapped.indexOf(0);
    const content = object.wrapped.subarray(nul + 1);
    const entry = Buffer.concat([entryHeader(object.type, content.length), object.type === 'tree' && content.length > LARGE_TREE ? zlib.deflateSync(content, { level: 0 }) : deflate(content)]);
    entries.push({ oid: object.oid, offset, crc: zlib.crc32(entry) });
    parts.push(entry);
    offset += entry.length;
  }
  const body = Buffer.concat(parts);
  const checksum = crypto.createHash('sha1').update(body).digest();
  const pack = Buffer.concat([body, checksum]);
  return { name: checksum.toString('hex'), pack, idx: encodeIndex(entries, checksum) };
}

function encodeIndex(entries: Array<{ oid: string; offset: number; crc: number }>, packChecksum: Buffer): Buffer {
  const sorted = [...entries].sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0));
  const n = sorted.length;
  const idx = Buffer.alloc(8 + 256 * 4 + n * 28 + 20);
  idx.writeUInt32BE(0xff744f63, 0);
  idx.writeUInt32BE(2, 4);
  const counts = new Array<number>(256).fill(0);
  for (const entry of sorted) counts[parseInt(entry.oid.slice(0, 2), 16)]! += 1;
  let total = 0;
  for (let i = 0; i < 256; i++) {
    total += counts[i] as number;
    idx.writeUInt32BE(total, 8 + i * 4);
  }
  const names = 8 + 256 * 4;
  for (const [i, entry] of sorted.entries()) {
    Buffer.from(entry.oid, 'hex').copy(idx, names + i * 20);
    idx.writeUInt32BE(entry.crc >>> 0, names + n * 20 + i * 4);
    idx.writeUInt32BE(entry.offset, names + n * 24 + i * 4);
  }
  packChecksum.copy(idx, names + n * 28);
  const idxChecksum = crypto.createHash('sha1').update(idx.subarray(0, names + n * 28 + 20)).digest();
  return Buffer.concat([idx, idxChecksum]);
}
