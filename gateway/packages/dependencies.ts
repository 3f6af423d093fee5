import { fail } from '../errors.ts';
import type { Catalog } from './catalog.ts';
import type { Outline } from './outline.ts';
import { inRange } from './range.ts';
import { liveVersions } from './version-index.ts';

export type DependencyRules = {
  catalog: Catalog;
  /** Whether the package being published is private. */
  isPrivate: boolean;
  /** Whether the publisher may see the private packages of `author`. */
  mayReadPrivate: (author: string) => boolean;
};

/**
 * Every dependency needs a published, unrevoked version in its range. A public package sees
 * only public packages; a private one also sees the private packages its publisher may
 * download. A private package it may not see is answered as unknown, as if it did not exist.
 */
export function checkDependencies(outline: Outline, rules: DependencyRules): void {
  for (const [name, range] of Object.entries(outline.dependencies)) {
    const record = rules.catalog.get(name);
    const visible =
      record !== null && record.name === name && (!record.private || (rules.isPrivate && rules.mayReadPrivate(name.slice(0, name.indexOf('/')))));
    if (!visible || !liveVersions(record.index).some((entry) => inRange(entry.version, range))) {
      throw fail('unknown_dependency', `"dependencies": ${name} has no published, unrevoked version in "${range.text}".`);
    }
  }
}
