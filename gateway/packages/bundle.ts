import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError, fail } from '../errors.ts';
import { decodeContent } from './bundle-content.ts';
import { mebibytes } from './shown.ts';
import type { StageTimer } from '../../index-repo/stage-timer.ts';

/** The hard limits on an upload: compressed as sent, and once decompressed. */
export type BundleLimits = { compressedBytes: number; decompressedBytes: number };

export const defaultBundleLimits: BundleLimits = {
  compressedBytes: 10 * 1024 * 1024,
  decompressedBytes: 50 * 1024 * 1024,
};

/** A bundle as uploaded: its bytes, their digest, and the decoded `{outline, sources}`. */
export type Bundle = {
  bytes: Buffer;
  sha256: string;
  size: number;
  /** The `outline` object as it was in the bundle, not yet validated. */
  outline: Record<string, unknown>;
  /** Module name to source text. */
  sources: Record<string, string>;
};

/**
 * What a bundle may hold in memory, and when: the bytes received are counted (and may be
 * refused) as they arrive; decoding waits its turn for room for its whole weight.
 */
export type BundleMemory = {
  /** Counts `bytes` more received, before they are kept; throws to refuse them. */
  hold(bytes: number): void;
  /** Resolves once a bundle of `weight` bytes (see `decodeWeight`) may be decoded. */
  decode(weight: number): Promise<void>;
};

const unbounded: BundleMemory = { hold() {}, decode: async () => {} };

/**
 * What decoding a bundle weighs at its peak: the bytes as sent, the inflated JSON, the text
 * decoded from it, and the parsed strings (each about the inflated size).
 */
export function decodeWeight(sentBytes: number, inflatedBytes: number): number {
  return sentBytes + 3 * inflatedBytes;
}

/**
 * Reads an upload with hard limits, inflating it while it arrives only to count and check
 * it: past `compressedBytes` sent or `decompressedBytes` inflated, it stops reading and
 * throws `413 too_large`; a file that is not gzip is `422 invalid_bundle` at its first bytes.
 * While the upload arrives only the bytes as sent are kept, so an upload held open pins no
 * more than it sent, however far it inflates. `declaredLength` (Content-Length) over the
 * limit is refused before reading anything. The body is left open when the read stops, so
 * that the refusal can still be answered on its connection. Once the body is complete, the
 * bundle waits for room to be decoded (`memory.decode`), then is inflated again, into one
 * buffer of the size counted, and decoded.
 */
export async function readBundle(body: Readable, declaredLength: number | null, limits: BundleLimits = defaultBundleLimits, memory = unbounded, timer: StageTimer | null = null): Promise<Bundle> {
  if (declaredLength !== null && declaredLength > limits.compressedBytes) throw tooLargeSent(limits);
  const { bytes, inflatedSize } = await receive(body, limits, memory);
  timer?.mark('body_received');
  await memory.decode(decodeWeight(bytes.length, inflatedSize));
  timer?.mark('decode_waited');
  const inflated = await inflate(bytes, inflatedSize);
  timer?.mark('inflated');
  const { outline, sources } = decodeContent(inflated);
  timer?.mark('decoded');
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  timer?.mark('sha256');
  return { bytes, sha256, size: bytes.length, outline, sources };
}

const tooLargeSent = (limits: BundleLimits) => fail('too_large', `A bundle may be at most ${mebibytes(limits.compressedBytes)} as sent.`);

/** Receives the body, keeping the bytes as sent and counting what they inflate to. */
async function receive(body: Readable, limits: BundleLimits, memory: BundleMemory): Promise<{ bytes: Buffer; inflatedSize: number }> {
  const sent: Buffer[] = [];
  let sentSize = 0;
  let inflatedSize = 0;
  try {
    await pipeline(
      async function* countSent() {
        for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
          sentSize += chunk.length;
          if (sentSize > limits.compressedBytes) throw tooLargeSent(limits);
          memory.hold(chunk.length);
          sent.push(chunk);
          yield chunk;
        }
      },
      zlib.createGunzip({ chunkSize: COUNTING_CHUNK }),
      async (inflating: AsyncIterable<Buffer>) => {
        for await (const chunk of inflating) {
          inflatedSize += chunk.length;
          if (inflatedSize > limits.decompressedBytes) {
            throw fail('too_large', `A bundle may be at most ${mebibytes(limits.decompressedBytes)} once decompressed.`);
          }
        }
      },
    );
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (isZlibError(err)) throw fail('invalid_bundle', 'The body is not a gzip file.');
    throw err;
  }
  return { bytes: Buffer.concat(sent, sentSize), inflatedSize };
}

/**
 * Output chunks of the inflating that counts: the default 16 KiB took a turn of the event loop
 * (and a trip through the thread pool) for every 16 KiB a bundle inflates to.
 */
const COUNTING_CHUNK = 128 * 1024;

/**
 * Inflates bytes already checked into one buffer of the size counted while receiving them: the
 * output chunk is that size, so that zlib answers once, into the buffer kept, rather than for
 * every 16 KiB.
 */
async function inflate(bytes: Buffer, size: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let at = 0;
  const gunzip = zlib.createGunzip({ chunkSize: Math.max(zlib.constants.Z_MIN_CHUNK, size) });
  gunzip.end(bytes);
  for await (const chunk of gunzip as AsyncIterable<Buffer>) {
    if (at + chunk.length > size) throw new Error('a bundle inflated to more than it did while it was received');
    chunks.push(chunk);
    at += chunk.length;
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, at);
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}
