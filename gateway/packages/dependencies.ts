import type { Snapshot } from '../../index-repo/types.ts';
import { fail } from '../errors.ts';
import { indexAt, type Catalog } from './catalog.ts';
import type { Outline } from './outline.ts';
import { inRange } from './range.ts';
import { liveVersions } from './version-index.ts';

export type DependencyRules = {
  catalog: Catalog;
  /** Whether the package being published is private. */
  isPrivate: boolean;
  /** Whether the publisher may see the private packages of `author`. */
  mayReadPrivate: (author: string) => boolean;
  /**
   * The state each dependency is read from: the plan's own snapshot for the packages of its
   * repository (so that a revoke earlier in the same group commit counts), and the other
   * repository's current state for the others (a private package's public dependencies).
   */
  stateOf: (isPrivate: boolean) => Snapshot;
};

/**
 * Every dependency needs a published, unrevoked version in its range, in the state the publish
 * commits on. A public package sees only public packages; a private one also sees the private
 * packages its publisher may download. A private package it may not see is answered as unknown,
 * as if it did not exist. The catalog says which packages exist and where; their versions are
 * read from the state (the catalog's parsed copy when it is that very blob).
 */
export async function checkDependencies(outline: Outline, rules: DependencyRules): Promise<void> {
  for (const [name, range] of Object.entries(outline.dependencies)) {
    const record = rules.catalog.get(name);
    const visible =
      record !== null && record.name === name && (!record.private || (rules.isPrivate && rules.mayReadPrivate(name.slice(0, name.indexOf('/')))));
    const index = visible ? await indexAt(record, rules.stateOf(record.private), name) : null;
    if (index === null || !liveVersions(index).some((entry) => inRange(entry.version, range))) {
      throw fail('unknown_dependency', `"dependencies": ${name} has no published, unrevoked version in "${range.text}".`);
    }
  }
}
