import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { median } from './stats.ts';

/**
 * What the disk itself charges for the flushes a durable commit needs, each the median of many
 * (ms): fdatasync of a freshly written 30 KB file; creating a file and flushing its folder;
 * renaming a file and flushing its folder.
 */
export type Floor = { fdatasync: number; create: number; rename: number };

/** Measures the floor in a folder made inside `parent` (the folder the registries' data goes to), with synchronous calls. */
export function measureFloor(parent: string, repetitions: number): Floor {
  const dir = fs.mkdtempSync(path.join(parent, 'floor-'));
  const folder = fs.openSync(dir, 'r');
  const data = crypto.randomBytes(30 * 1024);
  const times: Record<keyof Floor, number[]> = { fdatasync: [], create: [], rename: [] };
  const timed = (into: number[], work: () => void) => {
    const started = performance.now();
    work();
    into.push(performance.now() - started);
  };
  try {
    for (let n = 0; n < repetitions; n++) {
      const file = fs.openSync(path.join(dir, `data-${n}`), 'wx');
      fs.writeSync(file, data);
      timed(times.fdatasync, () => fs.fdatasyncSync(file));
      fs.closeSync(file);
      timed(times.create, () => {
        fs.closeSync(fs.openSync(path.join(dir, `new-${n}`), 'wx'));
        fs.fsyncSync(folder);
      });
      timed(times.rename, () => {
        fs.renameSync(path.join(dir, `new-${n}`), path.join(dir, `renamed-${n}`));
        fs.fsyncSync(folder);
      });
    }
  } finally {
    fs.closeSync(folder);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { fdatasync: median(times.fdatasync), create: median(times.create), rename: median(times.rename) };
}
