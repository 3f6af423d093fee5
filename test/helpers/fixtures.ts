import type { Fixture } from './bundle.ts';
import { claimedVersion } from './bundle.ts';
import { call, createIdentity, expectJson, loggedIn, type MailRegistry } from './accounts.ts';

/** Sends a bundle: `PUT /packages/<name>/<version>` with `Content-Type: application/gzip`. */
export function putBundle(baseUrl: string, token: string | null, name: string, version: string, bytes: Uint8Array, contentType = 'application/gzip'): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': contentType };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(new URL(`/packages/${name}/${version}`, baseUrl), { method: 'PUT', headers, body: bytes });
}

/** Publishes and checks the 201: answers `{name, version, sha256, commit}`. */
export async function published(baseUrl: string, token: string, name: string, version: string, bytes: Uint8Array) {
  return expectJson<{ name: string; version: string; sha256: string; commit: string }>(await putBundle(baseUrl, token, name, version, bytes), 201);
}

/** Logs `email` in and creates each identity with it as admin; answers its session token. */
export async function publisher(reg: MailRegistry, email: string, identities: string[]): Promise<string> {
  const token = await loggedIn(reg, email);
  for (const identity of identities) await createIdentity(reg, token, identity);
  return token;
}

/** Revokes a version: `DELETE /packages/<name>/<version>` with `{"reason"}`. */
export function revokeCall(baseUrl: string, token: string | null, name: string, version: string, reason?: string | null): Promise<Response> {
  return call(baseUrl, 'DELETE', `/packages/${name}/${version}`, { token, ...(reason === undefined ? {} : { body: { reason } }) });
}

/** The package a fixture's file name claims: `gren_lang_test_runner_node__7_0_0.pkg.gz` → gren-lang/test-runner-node. */
export function claimedName(file: string): string {
  const stem = file.replace(/__\d+_\d+_\d+\.pkg\.gz$/, '');
  const author = ['gren_lang', 'blaix'].find((a) => stem.startsWith(`${a}_`));
  if (!author) throw new Error(`Unexpected fixture name ${file}`);
  return `${author.replace(/_/g, '-')}/${stem.slice(author.length + 1).replace(/_/g, '-')}`;
}

/** Where a fixture is sent: the package and version its file name claims. */
export function claimedTarget(fixture: Fixture): { name: string; version: string } {
  return { name: claimedName(fixture.file), version: claimedVersion(fixture.file) };
}

/**
 * The fixtures in an order where every package comes after the packages it depends on
 * (by the names in their outlines), versions ascending; applications come last.
 */
export function dependencyOrder(all: Fixture[]): Fixture[] {
  const packages = all.filter((f) => f.outline.type === 'package');
  const depsOf = new Map<string, Set<string>>();
  for (const f of packages) {
    const deps = depsOf.get(f.outline.name) ?? new Set<string>();
    for (const dep of Object.keys(f.outline.dependencies ?? {})) deps.add(dep);
    depsOf.set(f.outline.name, deps);
  }
  const order: string[] = [];
  const visit = (name: string, seen: Set<string>) => {
    if (order.includes(name) || seen.has(name)) return;
    seen.add(name);
    for (const dep of [...(depsOf.get(name) ?? [])].sort()) visit(dep, seen);
    order.push(name);
  };
  for (const name of [...depsOf.keys()].sort()) visit(name, new Set());
  const rank = (f: Fixture) => order.indexOf(f.outline.name);
  const byVersion = (a: Fixture, b: Fixture) => claimedVersion(a.file).localeCompare(claimedVersion(b.file), 'en', { numeric: true });
  return [...packages.sort((a, b) => rank(a) - rank(b) || byVersion(a, b)), ...all.filter((f) => f.outline.type !== 'package')];
}
