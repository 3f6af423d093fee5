import { bundle } from '../../test/helpers/bundle.ts';
import type { FillPackage } from './fill.ts';
import type { Workload } from './publish-workloads.ts';

/** The padding of a held bundle unless told: about 1.5 KB gzip'd, the size of the smallest real packages. */
export const HELD_PADDING = 1500;

/** Every package `workload` holds at `versions` versions, each version a bundle of about `padding` bytes, as a filled registry holds them. */
export function* heldBundles(workload: Workload, versions: number, padding = HELD_PADDING): Generator<FillPackage> {
  for (const pkg of workload.held(versions)) {
    const name = `${pkg.author}/${pkg.name}`;
    yield { name, versions: pkg.versions.map((version) => ({ version, bytes: bundle({ name, version, padding, summary: `Benchmark package ${name}` }) })) };
  }
}
