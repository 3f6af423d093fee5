import crypto from 'node:crypto';
import { CliError } from '../client/cli-error.ts';
import { registryClient, type RegistryClient } from '../client/registry-client.ts';
import type { FolderBundle } from './bundle-folder.ts';
import type { PublishAccess } from './publish-access.ts';

export type Outcome =
  | { file: string; name: string; version: string; result: 'imported'; commit: string }
  | { file: string; name: string; version: string; result: 'skipped'; reason: string }
  | { file: string; name: string | null; version: string | null; result: 'refused'; reason: string; code: string };

type IndexEntry = { version: string; sha256: string; revoked: unknown };

const userAgent = 'gren-registry-import/0.1.0';

function hashOf(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** The registered entry of a version, public or private (the token may read its identity's private index). */
async function registeredEntry(client: RegistryClient, bundle: FolderBundle): Promise<IndexEntry | null> {
  const [author, name] = bundle.name.split('/') as [string, string];
  const file = `/packages/${encodeURIComponent(author)}/${encodeURIComponent(name)}/index.json`;
  for (const prefix of ['/index', '/private']) {
    try {
      const { body } = await client.call<{ versions: IndexEntry[] }>('GET', `${prefix}${file}`, { auth: 'optional' });
      return body.versions.find((v) => v.version === bundle.version) ?? null;
    } catch (err) {
      if (!(err instanceof CliError) || err.status !== 404) throw err;
    }
  }
  return null;
}

/** A version the registry has already: skipped when it is this very bundle, refused when it differs. */
async function present(client: RegistryClient, bundle: FolderBundle): Promise<Outcome> {
  const entry = await registeredEntry(client, bundle);
  const base = { file: bundle.file, name: bundle.name, version: bundle.version };
  if (entry && entry.sha256 !== hashOf(bundle.bytes)) {
    return { ...base, result: 'refused', code: 'version_exists', reason: `${bundle.name} ${bundle.version} is registered already with other content (sha256 ${entry.sha256})` };
  }
  return { ...base, result: 'skipped', reason: entry?.revoked ? 'present already (revoked)' : 'present already' };
}

async function importOne(url: string, access: PublishAccess, bundle: FolderBundle): Promise<Outcome> {
  const base = { file: bundle.file, name: bundle.name, version: bundle.version };
  const author = bundle.name.slice(0, bundle.name.indexOf('/'));
  const granted = access.tokenFor(author);
  if ('refused' in granted) return { ...base, result: 'refused', code: 'forbidden', reason: granted.refused };
  const client = registryClient({ url, token: granted.token, userAgent });
  const [, name] = bundle.name.split('/') as [string, string];
  try {
    const path = `/packages/${encodeURIComponent(author)}/${encodeURIComponent(name)}/${bundle.version}`;
    const { body } = await client.upload<{ commit: string }>(path, bundle.bytes, () => {});
    return { ...base, result: 'imported', commit: body.commit };
  } catch (err) {
    if (!(err instanceof CliError) || err.status === null || err.status >= 500) throw err;
    if (err.code === 'unauthorized') {
      throw new CliError('unauthorized', `The registry at ${url} refused a token minted in this data folder's accounts: is it running on this data folder?`);
    }
    if (err.code === 'version_exists') return present(client, bundle);
    return { ...base, result: 'refused', code: err.code, reason: err.message };
  }
}

/**
 * Publishes the bundles in the order given, each through the registry's own publish path.
 * Bundles refused for a missing dependency are tried again after a pass that imported
 * something, until a pass imports nothing more (this settles any order the folder needs).
 * `onOutcome` hears each bundle once, as soon as its outcome is final.
 */
export async function importBundles(options: {
  url: string;
  access: PublishAccess;
  bundles: FolderBundle[];
  onOutcome(outcome: Outcome): void;
}): Promise<Outcome[]> {
  const outcomes = new Map<FolderBundle, Outcome>();
  let pending = options.bundles;
  for (;;) {
    let progress = false;
    const waiting: FolderBundle[] = [];
    for (const bundle of pending) {
      const outcome = await importOne(options.url, options.access, bundle);
      outcomes.set(bundle, outcome);
      if (outcome.result === 'refused' && outcome.code === 'unknown_dependency') waiting.push(bundle);
      else options.onOutcome(outcome);
      if (outcome.result === 'imported') progress = true;
    }
    if (!progress || waiting.length === 0) {
      for (const bundle of waiting) options.onOutcome(outcomes.get(bundle) as Outcome);
      break;
    }
    pending = waiting;
  }
  return options.bundles.map((b) => outcomes.get(b) as Outcome);
}
