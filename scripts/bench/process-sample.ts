import fs from 'node:fs';
import { descendants } from './process-tree.ts';

/**
 * What a registry process holds at one moment, as its metrics say it (prom-client's process
 * metrics) and as the kernel does (/proc), side by side.
 */
export type ProcessSample = {
  /** process_resident_memory_bytes, and VmRSS of /proc/<pid>/status, in bytes. */
  rss: number;
  procRss: number;
  /** nodejs_heap_size_total_bytes and nodejs_heap_size_used_bytes: JavaScript's heap, and what of it is in use. */
  heapTotal: number;
  heapUsed: number;
  /** nodejs_external_memory_bytes: memory outside the heap that JavaScript objects hold (Buffers). */
  external: number;
  /** process_open_fds, and the entries of /proc/<pid>/fd. */
  fds: number;
  procFds: number;
  /** nodejs_eventloop_lag_p99_seconds: the 99th percentile of the loop's delay since the previous scrape. */
  loopP99: number;
  /** The process's descendants: its Git spawner and the Git processes running. */
  processes: number;
};

/** One value of the Prometheus text format, without labels; NaN when absent. */
export function metricValue(text: string, name: string): number {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'm').exec(text);
  return match ? Number(match[1]) : NaN;
}

function procStatusBytes(pid: number, field: string): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
  return kb === undefined ? NaN : Number(kb) * 1024;
}

/** Scrapes `metricsUrl` (GET /metrics) and reads /proc for `pid`. */
export async function sampleProcess(metricsUrl: string, pid: number): Promise<ProcessSample> {
  const res = await fetch(metricsUrl);
  if (res.status !== 200) throw new Error(`GET ${metricsUrl}: ${res.status}`);
  const text = await res.text();
  return {
    rss: metricValue(text, 'process_resident_memory_bytes'),
    procRss: procStatusBytes(pid, 'VmRSS'),
    heapTotal: metricValue(text, 'nodejs_heap_size_total_bytes'),
    heapUsed: metricValue(text, 'nodejs_heap_size_used_bytes'),
    external: metricValue(text, 'nodejs_external_memory_bytes'),
    fds: metricValue(text, 'process_open_fds'),
    procFds: fs.readdirSync(`/proc/${pid}/fd`).length,
    loopP99: metricValue(text, 'nodejs_eventloop_lag_p99_seconds'),
    processes: descendants(pid).length,
  };
}
