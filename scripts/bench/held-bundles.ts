import { bundle } from '../../test/helpers/bundle.ts';
import type { FillPackage } from './fill.ts';
import type { Workload } from './publish-workloads.ts';

/** Every package `workload` holds at `versions` versions, each version a ~1.5 KB bundle, as a filled registry holds them. */
export function* heldBundles(workload: Workload, versions: number): Generator<FillPackage> {
  for (const pkg of workload.held(versions)) {
    const name = `${pkg.author}/${pkg.name}`;
    yield { name, versions: pkg.versions.map((version) => ({ version, bytes: bundle({ name, version, padding: 1500, summary: `Benchmark package ${name}` }) })) };
  }
}
