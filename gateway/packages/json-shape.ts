/** How much structure a JSON text may have before it is parsed: nesting, and values in all. */
export type ShapeLimits = { maxDepth: number; maxValues: number };

/** Why a text was refused, and where: the object keys leading to the place (at most the first few). */
export type ShapeProblem = { problem: 'too_deep' | 'too_many_values'; path: string[] };

const quote = 0x22;
const backslash = 0x5c;
const openObject = 0x7b;
const openArray = 0x5b;
const closeObject = 0x7d;
const closeArray = 0x5d;
const comma = 0x2c;

/** How many keys of the path are kept, and how much of each: enough to name a field. */
const pathDepth = 3;
const keyBytes = 120;

/**
 * Scans a JSON text (UTF-8 bytes) for its structure without building anything, so that a
 * small text cannot make `JSON.parse` allocate millions of arrays or numbers: `[[[[…]]]]`
 * or `[0,0,0,…]` cost far more memory parsed than as text, while strings cost about their
 * size. Counts every container and every value after a comma; gives up at the first limit
 * passed. The syntax itself is left to `JSON.parse`.
 */
export function checkJsonShape(bytes: Uint8Array, limits: ShapeLimits): ShapeProblem | null {
  const objects: boolean[] = [];
  const path: string[] = [];
  let values = 1;
  let expectKey = false;
  for (let at = 0; at < bytes.length; at++) {
    const byte = bytes[at];
    if (byte === quote) {
      const end = stringEnd(bytes, at + 1);
      if (expectKey && objects.length <= pathDepth) path[objects.length - 1] = keyText(bytes, at + 1, end);
      expectKey = false;
      at = end;
    } else if (byte === openObject || byte === openArray) {
      objects.push(byte === openObject);
      path.length = Math.min(path.length, objects.length - 1);
      if (objects.length > limits.maxDepth) return { problem: 'too_deep', path: path.slice(0, pathDepth) };
      if (++values > limits.maxValues) return { problem: 'too_many_values', path: path.slice(0, pathDepth) };
      expectKey = byte === openObject;
    } else if (byte === closeObject || byte === closeArray) {
      objects.pop();
      path.length = Math.min(path.length, objects.length);
      expectKey = false;
    } else if (byte === comma) {
      if (++values > limits.maxValues) return { problem: 'too_many_values', path: path.slice(0, pathDepth) };
      expectKey = objects.at(-1) === true;
    }
  }
  return null;
}

/** The index of the quote closing the string that starts at `from` (the end of the text if none). */
function stringEnd(bytes: Uint8Array, from: number): number {
  let at = from;
  for (;;) {
    const next = bytes.indexOf(quote, at);
    if (next < 0) return bytes.length;
    let escapes = 0;
    while (next - escapes - 1 >= from && bytes[next - escapes - 1] === backslash) escapes++;
    if (escapes % 2 === 0) return next;
    at = next + 1;
  }
}

function keyText(bytes: Uint8Array, from: number, end: number): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset + from, Math.min(end - from, keyBytes)).toString('utf8');
  return end - from > keyBytes ? `${text}…` : text;
}
