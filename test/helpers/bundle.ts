import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import type { VersionEntry } from '../../gateway/packages/version-index.ts';

export type BundleSpec = {
  /** `author/name`. */
  name: string;
  version: string;
  /** Dependency name to range. */
  deps?: Record<string, string>;
  /** The `gren-version` range; `0.6.0 <= v < 0.7.0` unless told. */
  gren?: string;
  platform?: string;
  private?: boolean;
  summary?: string;
  license?: string;
  /** Exposed modules (a list, or lists by category); `["Main"]` unless told. */
  exposed?: string[] | Record<string, string[]>;
  /** Extra or replaced source files; every exposed module gets one unless given. */
  sources?: Record<string, string>;
  /** Fields merged over the outline last, to build broken ones (`undefined` removes a field). */
  outline?: Record<string, unknown>;
  /** Incompressible source making the gzip'd bundle about this many bytes heavier, for a realistic size. */
  padding?: number;
};

/** The outline a `bundle(spec)` carries. */
export function outlineOf(spec: BundleSpec): Record<string, unknown> {
  const outline: Record<string, unknown> = {
    type: 'package',
    platform: spec.platform ?? 'common',
    name: spec.name,
    summary: spec.summary ?? `The ${spec.name} package`,
    license: spec.license ?? 'BSD-3-Clause',
    version: spec.version,
    'exposed-modules': spec.exposed ?? ['Main'],
    'gren-version': spec.gren ?? '0.6.0 <= v < 0.7.0',
    dependencies: spec.deps ?? {},
  };
  if (spec.private !== undefined) outline.private = spec.private;
  for (const [key, value] of Object.entries(spec.outline ?? {})) {
    if (value === undefined) delete outline[key];
    else outline[key] = value;
  }
  return outline;
}

/** A gzip'd bundle, as the compiler writes one: `{"outline": gren.json, "sources": {...}}`. */
export function bundle(spec: BundleSpec): Buffer {
  const exposed = spec.exposed ?? ['Main'];
  const modules = Array.isArray(exposed) ? exposed : Object.values(exposed).flat();
  const sources: Record<string, string> = {};
  for (const module of modules) sources[module] = `module ${module} exposing (..)\n\nvalue : Int\nvalue = 1\n`;
  // Base64 of random bytes gzips back to about the bytes' count: the bundle weighs about `padding`.
  if (spec.padding) sources['Padding'] = `-- ${crypto.randomBytes(spec.padding).toString('base64')}\n`;
  Object.assign(sources, spec.sources);
  return gzipJson({ outline: outlineOf(spec), sources });
}

export function gzipJson(value: unknown): Buffer {
  return zlib.gzipSync(JSON.stringify(value));
}

/** The real bundles of public Gren packages the tests use (see `test/fixtures/bundles/README.md`). */
export const fixturesDir = path.resolve(import.meta.dirname, '../fixtures/bundles');

/** A real bundle from the fixtures, with what its outline really says. */
export type Fixture = { file: string; bytes: Buffer; outline: Record<string, any> };

export function fixtures(): Fixture[] {
  return fs
    .readdirSync(fixturesDir)
    .filter((file) => file.endsWith('.pkg.gz'))
    .sort()
    .map((file) => {
      const bytes = fs.readFileSync(path.join(fixturesDir, file));
      const content = JSON.parse(zlib.gunzipSync(bytes).toString('utf8')) as { outline: Record<string, any> };
      return { file, bytes, outline: content.outline };
    });
}

/** What a fixture's file name claims: `gren_lang_core__7_4_0.pkg.gz` → version 7.4.0. */
export function claimedVersion(file: string): string {
  const match = /__(\d+)_(\d+)_(\d+)\.pkg\.gz$/.exec(file);
  if (!match) throw new Error(`Unexpected fixture name ${file}`);
  return `${match[1]}.${match[2]}.${match[3]}`;
}

/** What a bundle holds: the outline (`gren.json`) and every module's source, kernel JavaScript under `Gren.Kernel.*`. */
export type BundleContent = { outline: Record<string, any>; sources: Record<string, string> };

/** A `.pkg.gz` bundle's content: gzip'd JSON of `outline` and `sources`. */
export function decodeBundle(bytes: Uint8Array): BundleContent {
  const content = JSON.parse(zlib.gunzipSync(bytes).toString('utf8')) as Partial<BundleContent>;
  if (typeof content.outline !== 'object' || typeof content.sources !== 'object') throw new Error('not a bundle: no outline or sources');
  return { outline: content.outline, sources: content.sources } as BundleContent;
}

/** The content of the real bundle of package `name` at `version` (as its outline says) among the fixtures. */
export function fixtureContent(name: string, version: string): BundleContent {
  const found = fixtures().find((f) => f.outline.name === name && f.outline.version === version);
  if (!found) throw new Error(`No fixture holds ${name} ${version}`);
  return decodeBundle(found.bytes);
}

/** The `index.json` entry a publish writes for a bundle of `version` with this outline. */
export function versionEntryOf(version: string, bytes: Buffer, outline: Record<string, unknown>, published: string): VersionEntry {
  return {
    version,
    'gren-version': String(outline['gren-version']),
    platform: String(outline['platform']),
    dependencies: outline['dependencies'] as Record<string, string>,
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    size: bytes.length,
    published,
    revoked: null,
  };
}
