import { fail } from '../errors.ts';
import { checkJsonShape, type ShapeProblem } from './json-shape.ts';
import { isModuleName } from './source-tree.ts';
import { mebibytes, shown } from './shown.ts';

/**
 * What a bundle's content may hold beyond its byte limits: the compiler writes
 * `{"outline": gren.json, "sources": {module: text}}`, so nothing nests deeper than an
 * outline's `exposed-modules` by category (4 levels), and values are counted in thousands.
 */
export const contentBounds = {
  maxDepth: 4,
  maxValues: 10_000,
  maxModules: 2_000,
  maxModuleBytes: 8 * 1024 * 1024,
};

const utf8 = new TextDecoder('utf-8', { fatal: true });
const invalidBundle = (message: string) => fail('invalid_bundle', message);

/** Parses the decompressed JSON: an object with an `outline` object and a `sources` object of module texts. */
export function decodeContent(json: Buffer): { outline: Record<string, unknown>; sources: Record<string, string> } {
  refuseShape(checkJsonShape(json, contentBounds));
  let text: string;
  try {
    text = utf8.decode(json);
  } catch {
    throw invalidBundle('The decompressed bundle is not UTF-8 text.');
  }
  let content: unknown;
  try {
    content = JSON.parse(text);
  } catch {
    throw invalidBundle('The decompressed bundle is not JSON.');
  }
  if (!isObject(content)) throw invalidBundle('The decompressed bundle must be a JSON object with "outline" and "sources".');
  const { outline, sources, ...others } = content;
  const other = Object.keys(others)[0];
  if (other !== undefined) throw invalidBundle(`The bundle holds ${shown(other)}; a bundle holds only "outline" and "sources".`);
  if (!isObject(outline)) throw invalidBundle('The bundle has no "outline" object.');
  if (!isObject(sources)) throw invalidBundle('The bundle has no "sources" object.');
  return { outline, sources: checkSources(sources) };
}

function refuseShape(found: ShapeProblem | null): void {
  if (found === null) return;
  const [top, field] = found.path;
  const where = top === 'outline' && field !== undefined ? `The outline's ${shown(field)}` : top !== undefined ? `The bundle's ${shown(top)}` : 'The bundle';
  throw invalidBundle(
    found.problem === 'too_deep'
      ? `${where} nests deeper than a package's gren.json can (${contentBounds.maxDepth} levels in all).`
      : `${where} holds more than ${contentBounds.maxValues.toLocaleString('en')} values; a bundle holds an outline and one text per module.`,
  );
}

/** Every entry of `sources` is a module name with its text: well-formed, of a sane size, and at most 2,000 of them. */
function checkSources(sources: Record<string, unknown>): Record<string, string> {
  const names = Object.keys(sources);
  if (names.length > contentBounds.maxModules) {
    throw invalidBundle(`The bundle holds ${names.length} modules; at most ${contentBounds.maxModules.toLocaleString('en')} are allowed.`);
  }
  const seen = new Set<string>();
  for (const name of names) {
    const text = sources[name];
    if (!isModuleName(name)) throw invalidBundle(`The bundle's "sources" holds ${shown(name)}, which is not a module name such as Json.Decode.`);
    if (seen.has(name.toLowerCase())) throw invalidBundle(`The bundle's "sources" holds ${name} and another module whose name differs only in case.`);
    seen.add(name.toLowerCase());
    if (typeof text !== 'string') throw invalidBundle(`The bundle's "sources" entry ${name} is not a text.`);
    if (!text.isWellFormed()) throw invalidBundle(`The source of ${name} is not well-formed Unicode (it holds a lone surrogate).`);
    if (Buffer.byteLength(text) > contentBounds.maxModuleBytes) throw invalidBundle(`The source of ${name} is over ${mebibytes(contentBounds.maxModuleBytes)}.`);
  }
  return sources as Record<string, string>;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
