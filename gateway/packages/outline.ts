import { fail } from '../errors.ts';
import { isObject } from './bundle-content.ts';
import { isPackageName } from './package-name.ts';
import { maxVersionNumber, parseRange, type GrenRange } from './range.ts';
import { shown } from './shown.ts';
import { isModuleName } from './source-tree.ts';

export const platforms = ['common', 'browser', 'node'] as const;
export type Platform = (typeof platforms)[number];

/** A package's `gren.json`, validated; `raw` is the object exactly as it came. */
export type Outline = {
  name: string;
  version: string;
  summary: string;
  license: string;
  platform: Platform;
  exposedModules: string[];
  grenVersion: GrenRange;
  dependencies: Record<string, GrenRange>;
  private: boolean;
  raw: Record<string, unknown>;
};

export const maxSummaryLength = 80;
/** The outline's JSON, compact, at most: real ones weigh a few KiB, and the stored gren.json grows from it. */
export const maxOutlineBytes = 64 * 1024;
/** The fields of a package's gren.json the compiler reads, and the registry's own `private`. */
export const outlineFields = ['type', 'platform', 'name', 'summary', 'license', 'version', 'exposed-modules', 'gren-version', 'dependencies', 'private'];
const licenseRegex = /^[A-Za-z0-9][A-Za-z0-9.+-]*( (AND|OR|WITH) [A-Za-z0-9][A-Za-z0-9.+-]*)*$/;

const invalid = (message: string) => fail('invalid_outline', message);

/**
 * Validates a bundle's outline as the compiler writes a package's `gren.json`, against the
 * package and version of the URL and the modules the bundle carries. Each refusal names
 * the field: `invalid_bundle` for an outline that is not a package's, `name_mismatch`,
 * `version_mismatch`, then `invalid_outline`.
 */
export function validateOutline(raw: Record<string, unknown>, expected: { name: string; version: string }, sources: Record<string, string>): Outline {
  if (raw.type !== 'package') {
    throw fail('invalid_bundle', `The outline's "type" is ${shown(raw.type)}; only a "package" can be published.`);
  }
  checkBounds(raw);
  const name = requireString(raw, 'name');
  if (name !== expected.name) throw fail('name_mismatch', `The outline's "name" is ${shown(name)} but the URL publishes ${expected.name}.`);
  const version = requireString(raw, 'version');
  if (version !== expected.version) throw fail('version_mismatch', `The outline's "version" is ${shown(version)} but the URL publishes ${expected.version}.`);
  const exposedModules = readExposedModules(raw['exposed-modules']);
  for (const module of exposedModules) {
    if (!Object.hasOwn(sources, module)) throw invalid(`"exposed-modules" lists ${module}, which is missing from the bundle's sources.`);
  }
  return {
    name,
    version,
    summary: readSummary(raw),
    license: readLicense(raw),
    platform: readPlatform(raw),
    exposedModules,
    grenVersion: readRange(raw['gren-version'], '"gren-version"'),
    dependencies: readDependencies(raw.dependencies, name),
    private: readPrivate(raw),
    raw,
  };
}

/** Only the fields gren.json has, and a bounded size: what is stored from the outline stays bounded by what was sent. */
function checkBounds(raw: Record<string, unknown>): void {
  const unknown = Object.keys(raw).find((field) => !outlineFields.includes(field));
  if (unknown !== undefined) {
    throw fail('invalid_bundle', `The outline's ${shown(unknown)} is not a field of a package's gren.json, which has: ${outlineFields.join(', ')}.`);
  }
  const size = Buffer.byteLength(JSON.stringify(raw));
  if (size > maxOutlineBytes) throw fail('invalid_bundle', `The outline is ${Math.ceil(size / 1024)} KiB as JSON; at most ${maxOutlineBytes / 1024} KiB are allowed.`);
}

function requireString(raw: Record<string, unknown>, field: string): string {
  const value = raw[field];
  if (typeof value !== 'string' || value.trim() === '') throw invalid(`The outline's "${field}" must be a non-empty string.`);
  return value;
}

function readSummary(raw: Record<string, unknown>): string {
  const summary = requireString(raw, 'summary');
  if (!summary.isWellFormed()) throw invalid('"summary" is not well-formed Unicode (it holds a lone surrogate).');
  const length = [...summary].length;
  if (length > maxSummaryLength) throw invalid(`"summary" has ${length} characters; at most ${maxSummaryLength} are allowed.`);
  return summary;
}

function readLicense(raw: Record<string, unknown>): string {
  const license = requireString(raw, 'license');
  if (!licenseRegex.test(license)) throw invalid(`"license" must be an SPDX license identifier such as BSD-3-Clause, not ${shown(license)}.`);
  return license;
}

function readPlatform(raw: Record<string, unknown>): Platform {
  const platform = raw.platform;
  if (!platforms.includes(platform as Platform)) {
    throw invalid(`"platform" must be one of ${platforms.join(', ')}, not ${shown(platform)}.`);
  }
  return platform as Platform;
}

function readPrivate(raw: Record<string, unknown>): boolean {
  const value = raw.private ?? false;
  if (typeof value !== 'boolean') throw invalid('"private" must be true or false.');
  return value;
}

function readRange(value: unknown, field: string): GrenRange {
  const range = typeof value === 'string' ? parseRange(value) : null;
  if (!range) throw invalid(`${field} must be a range such as "1.0.0 <= v < 2.0.0" that holds a version, with numbers up to ${maxVersionNumber}, not ${shown(value)}.`);
  return range;
}

function readDependencies(value: unknown, self: string): Record<string, GrenRange> {
  if (value === undefined) return {};
  if (!isObject(value)) throw invalid('"dependencies" must be an object of package names to ranges.');
  const dependencies: Record<string, GrenRange> = {};
  for (const [dependency, range] of Object.entries(value)) {
    if (!isPackageName(dependency)) throw invalid(`"dependencies" names ${shown(dependency)}, which is not a package name such as gren-lang/core.`);
    if (dependency.toLowerCase() === self.toLowerCase()) throw invalid(`"dependencies" lists the package itself, ${dependency}.`);
    dependencies[dependency] = readRange(range, `"dependencies" of ${dependency}`);
  }
  return dependencies;
}

/** `exposed-modules` is a list of module names, or an object of such lists by category. */
function readExposedModules(value: unknown): string[] {
  let lists: Array<[string, unknown]>;
  if (Array.isArray(value)) lists = [['"exposed-modules"', value]];
  else if (isObject(value)) lists = Object.entries(value).map(([category, list]) => [`"exposed-modules" category ${shown(category)}`, list]);
  else throw invalid('"exposed-modules" must be a list of module names, or an object of such lists by category.');

  const modules: string[] = [];
  const seen = new Set<string>();
  for (const [where, list] of lists) {
    if (!Array.isArray(list)) throw invalid(`${where} must be a list of module names.`);
    for (const module of list as unknown[]) {
      if (typeof module !== 'string' || !isModuleName(module)) {
        throw invalid(`${where} holds ${shown(module)}, which is not a module name such as Json.Decode.`);
      }
      if (seen.has(module)) throw invalid(`"exposed-modules" lists ${module} twice.`);
      seen.add(module);
      modules.push(module);
    }
  }
  if (modules.length === 0) throw invalid('"exposed-modules" is empty; a package exposes at least one module.');
  return modules;
}
