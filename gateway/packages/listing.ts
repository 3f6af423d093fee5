import crypto from 'node:crypto';
import type { Catalog } from './catalog.ts';
import { liveVersions } from './version-index.ts';

/** One line of `GET /packages`. */
export type ListedPackage = { name: string; summary: string; latest: string | null; versions: string[] };

/**
 * The answer to `GET /packages`: public packages with their summary, greatest unrevoked
 * version and unrevoked versions. Built once per change of the catalog, then served as is.
 */
export function createListing(catalog: Catalog): () => { body: Buffer; etag: string } {
  let built: { generation: number; body: Buffer; etag: string } | null = null;
  return () => {
    if (built?.generation !== catalog.generation) {
      const list: ListedPackage[] = catalog.publicRecords().map((record) => {
        const versions = liveVersions(record.index).map((entry) => entry.version);
        return { name: record.name, summary: record.summary, latest: versions.at(-1) ?? null, versions };
      });
      const body = Buffer.from(JSON.stringify(list));
      const etag = `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      built = { generation: catalog.generation, body, etag };
    }
    return { body: built.body, etag: built.etag };
  };
}
