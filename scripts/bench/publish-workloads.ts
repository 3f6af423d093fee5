/**
 * The shapes of registry the publish benchmark measures, the same for the Gren registry and
 * for Verdaccio (where `author/name` becomes the scoped npm name `@author/name`): what the
 * registry holds before the runs, and which package and version each measured publish adds.
 */

/** A package the registry holds before the runs. */
export type HeldPackage = { author: string; name: string; versions: string[] };

/** What one publish adds. */
export type Target = { author: string; name: string; version: string };

/** The runs of one registry: warm-up, one client, eight clients, and eight clients publishing while reads are measured. */
export type RunName = 'warm' | 'single' | 'parallel' | 'reads';

export type Workload = {
  key: 'today' | 'new-packages' | 'many-authors';
  title: string;
  /** What a registry holding `versions` versions holds: `versions` versions, and the dependency of every publish (`DEPENDENCY`) first. */
  held(versions: number): HeldPackage[];
  /** What publish `i` of `client` in `run` adds to a registry that held `versions`. */
  target(versions: number, run: RunName, client: number, i: number): Target;
};

/** Each run publishes versions of its own major, so that no two publishes of a round ask for the same version. */
const major: Record<RunName, number> = { warm: 10, single: 11, parallel: 12, reads: 13 };
const runIndex: Record<RunName, number> = { warm: 0, single: 1, parallel: 2, reads: 3 };

/** The clients of the eight-client runs; each publishes to packages of its own where the workload allows. */
export const CLIENTS = 8;
/** Packages of the small identity each client publishes to, in the first workload. */
const OWN_PACKAGES = 5;

/** The package every measured bundle depends on, held by every registry besides its `versions`, as nearly every Gren package depends on core. */
export const DEPENDENCY: HeldPackage = { author: 'gren-lang', name: 'core', versions: ['1.0.0'] };

const tenVersions = (count = 10) => Array.from({ length: count }, (_, v) => `1.${v}.0`);

/** Packages of ten versions under `author`, `total` versions in all (the last one shorter). */
function packagesOf(author: string, prefix: string, total: number): HeldPackage[] {
  return Array.from({ length: Math.ceil(total / 10) }, (_, p) => ({ author, name: `${prefix}-${p}`, versions: tenVersions(Math.min(10, total - p * 10)) }));
}

/** New versions of existing packages of a small identity (`bench`, 40 packages), the rest of the registry in other packages. */
const today: Workload = {
  key: 'today',
  title: 'new versions of existing packages of a small identity',
  held(versions) {
    const own = Array.from({ length: CLIENTS * OWN_PACKAGES }, (_, n) => ({ author: 'bench', name: `p${Math.floor(n / OWN_PACKAGES)}-${n % OWN_PACKAGES}`, versions: ['1.0.0'] }));
    return [DEPENDENCY, ...own, ...packagesOf('fill', 'pkg', Math.max(0, versions - own.length))];
  },
  target(_versions, run, client, i) {
    return { author: 'bench', name: `p${client}-${i % OWN_PACKAGES}`, version: `${major[run]}.${Math.floor(i / OWN_PACKAGES)}.0` };
  },
};

/** Each publish a new package of an identity already holding a tenth as many packages as versions (1,000 at 10,000). */
const newPackages: Workload = {
  key: 'new-packages',
  title: 'each publish a new package of an identity holding all the others (10 versions each)',
  held: (versions) => [DEPENDENCY, ...packagesOf('big', 'pkg', versions)],
  target: (_versions, run, client, i) => ({ author: 'big', name: `${run}-${client}-${i}`, version: '1.0.0' }),
};

/** One author per twenty versions (two packages of ten): 500 at 10,000, 5,000 at 100,000. */
export const authorsFor = (versions: number) => Math.max(1, Math.round(versions / 20));

/** New versions spread over thousands of authors, each holding two packages. */
const manyAuthors: Workload = {
  key: 'many-authors',
  title: 'new versions spread over many authors (one author per 20 versions held)',
  held(versions) {
    return [DEPENDENCY, ...Array.from({ length: authorsFor(versions) }, (_, a) => packagesOf(`author-${a}`, 'pkg', 20)).flat()];
  },
  target(versions, run, client, i) {
    // A stride prime to the count of authors visits them all, far apart, in every run.
    const author = ((runIndex[run] * 100_003 + client * 10_007 + i) * 7_919) % authorsFor(versions);
    return { author: `author-${author}`, name: `pkg-${i % 2}`, version: `${major[run]}.${client}.${i}` };
  },
};

export const WORKLOADS: Workload[] = [today, newPackages, manyAuthors];
