import crypto from 'node:crypto';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError, fail } from '../errors.ts';

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

const mebibytes = (n: number) => `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`;

/**
 * Reads an upload with hard limits, decompressing while it reads: past `compressedBytes`
 * sent or `decompressedBytes` inflated, it stops reading and throws `413 too_large`, so a
 * decompression bomb never reaches memory. `declaredLength` (Content-Length) over the limit
 * is refused before reading anything. The body is left open when the read stops, so that
 * the refusal can still be answered on its connection.
 */
export async function readBundle(body: Readable, declaredLength: number | null, limits: BundleLimits = defaultBundleLimits): Promise<Bundle> {
  const tooLargeSent = () => fail('too_large', `A bundle may be at most ${mebibytes(limits.compressedBytes)} as sent.`);
  const tooLargeInflated = () => fail('too_large', `A bundle may be at most ${mebibytes(limits.decompressedBytes)} once decompressed.`);
  if (declaredLength !== null && declaredLength > limits.compressedBytes) throw tooLargeSent();

  const sent: Buffer[] = [];
  let sentSize = 0;
  const inflated: Buffer[] = [];
  let inflatedSize = 0;
  try {
    await pipeline(
      async function* countSent() {
        for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
          sentSize += chunk.length;
          if (sentSize > limits.compressedBytes) throw tooLargeSent();
          sent.push(chunk);
          yield chunk;
        }
      },
      zlib.createGunzip(),
      async (inflating: AsyncIterable<Buffer>) => {
        for await (const chunk of inflating) {
          inflatedSize += chunk.length;
          if (inflatedSize > limits.decompressedBytes) throw tooLargeInflated();
          inflated.push(chunk);
        }
      },
    );
  } catch (err) {
    if (err instanceof ApiError) throw err;
    if (isZlibError(err)) throw fail('invalid_bundle', 'The body is not a gzip file.');
    throw err;
  }
  const bytes = Buffer.concat(sent, sentSize);
  const { outline, sources } = decodeContent(Buffer.concat(inflated, inflatedSize));
  return { bytes, sha256: crypto.createHash('sha256').update(bytes).digest('hex'), size: sentSize, outline, sources };
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('Z_');
}

/** Parses the decompressed JSON: an object with an `outline` object and a `sources` object of strings. */
function decodeContent(json: Buffer): { outline: Record<string, unknown>; sources: Record<string, string> } {
  let content: unknown;
  try {
    content = JSON.parse(json.toString('utf8'));
  } catch {
    throw fail('invalid_bundle', 'The decompressed bundle is not JSON.');
  }
  if (!isObject(content)) throw fail('invalid_bundle', 'The decompressed bundle must be a JSON object with "outline" and "sources".');
  const { outline, sources } = content;
  if (!isObject(outline)) throw fail('invalid_bundle', 'The bundle has no "outline" object.');
  if (!isObject(sources)) throw fail('invalid_bundle', 'The bundle has no "sources" object.');
  for (const [module, text] of Object.entries(sources)) {
    if (typeof text !== 'string') throw fail('invalid_bundle', `The bundle's "sources" entry "${module}" is not a string.`);
  }
  return { outline, sources: sources as Record<string, string> };
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
