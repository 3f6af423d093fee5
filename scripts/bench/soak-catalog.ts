/**
 * What the soak has published, as its clients know it: which versions may be read, cloned or
 * revoked without racing a revoke. Every third version is published to be revoked later; the
 * others are kept, so that reads and clones of them must always succeed.
 */
export type SoakPackage = {
  author: string;
  name: string;
  /** `author/name`. */
  fullName: string;
  /** Versions published and never to be revoked (at least 1.0.0, published before the load). */
  kept: string[];
  /** Versions published and meant to be revoked, not revoked yet. */
  revocable: string[];
  /** Every version published, revoked ones included. */
  published: string[];
  next: number;
};

export type SoakCatalog = {
  packages: SoakPackage[];
  /** The package every other one depends on: one version, published first, never revoked. */
  base: SoakPackage;
  /** A version nobody has published yet, and what to do once its publish is answered 201. */
  nextVersion(pkg: SoakPackage): { version: string; published(): void };
  /** A version to revoke (taken out of `revocable`), or null when none waits. */
  takeRevocable(): { pkg: SoakPackage; version: string } | null;
};

export const pick = <T>(list: readonly T[]): T => list[Math.floor(Math.random() * list.length)] as T;

const soakPackage = (author: string, name: string): SoakPackage => ({ author, name, fullName: `${author}/${name}`, kept: [], revocable: [], published: [], next: 0 });

export function createSoakCatalog(authors: string[], namesPerAuthor: number): SoakCatalog {
  const packages = authors.flatMap((author) => Array.from({ length: namesPerAuthor }, (_, i) => soakPackage(author, `package-${i}`)));
  return {
    packages,
    base: soakPackage(authors[0] as string, 'base'),
    nextVersion(pkg) {
      const n = pkg.next++;
      const version = `1.${Math.floor(n / 100)}.${n % 100}`;
      return {
        version,
        published() {
          pkg.published.push(version);
          (n % 3 === 1 ? pkg.revocable : pkg.kept).push(version);
        },
      };
    },
    takeRevocable() {
      const waiting = packages.filter((p) => p.revocable.length > 0);
      if (waiting.length === 0) return null;
      const pkg = pick(waiting);
      const version = pkg.revocable.splice(Math.floor(Math.random() * pkg.revocable.length), 1)[0] as string;
      return { pkg, version };
    },
  };
}
