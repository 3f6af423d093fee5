import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';

export type LoadResult = {
  requestsPerSecond: number;
  /** Latency percentiles, in milliseconds. */
  p50: number;
  p99: number;
  requests: number;
  /** Answers that were not 2xx or 3xx, and socket errors. */
  failures: number;
};

export type LoadOptions = {
  url: string;
  seconds: number;
  connections: number;
  headers?: Record<string, string>;
  /** A wrk Lua script, for requests that vary. */
  script?: string;
  /** A command prefix such as `taskset -c 1`, to keep the load on its own core. */
  prefix?: string[];
};

/** Runs `wrk` once (one thread) and reads its figures. */
export function runWrk(options: LoadOptions): Promise<LoadResult> {
  const args = ['wrk', '-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--latency', '--timeout', '5s'];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  if (options.script) args.push('-s', options.script);
  args.push(options.url);
  const [command, ...rest] = [...(options.prefix ?? []), ...args];
  return new Promise((resolve, reject) => {
    execFile(command as string, rest, { timeout: (options.seconds + 30) * 1000 }, (err, stdout) => {
      if (err) reject(new Error(`wrk failed: ${err.message}\n${stdout}`));
      else resolve(parseWrk(stdout));
    });
  });
}

/** Reads wrk's report: requests/s, the 50% and 99% latencies, the totals and the failures. */
export function parseWrk(output: string): LoadResult {
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(output);
    if (!match) throw new Error(`wrk's report has no ${pattern}:\n${output}`);
    return Number(match[1]);
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketFailures = socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  return {
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/),
    p50: latency(output, '50%'),
    p99: latency(output, '99%'),
    requests: number(/(\d+) requests in/),
    failures: (/Non-2xx or 3xx responses: (\d+)/.exec(output) ? number(/Non-2xx or 3xx responses: (\d+)/) : 0) + socketFailures,
  };
}

function latency(output: string, percentile: string): number {
  const match = new RegExp(`^\\s*${percentile}\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(output);
  if (!match) throw new Error(`wrk's report has no ${percentile} latency:\n${output}`);
  const scale = { us: 0.001, ms: 1, s: 1000 }[match[2] as 'us' | 'ms' | 's'];
  return Number(match[1]) * scale;
}

/** Writes, in `dir`, a wrk script asking for each of `paths` (such as `/index/config.json`) in turn; answers its file. */
export function rotationScript(dir: string, paths: string[]): string {
  const file = path.join(dir, 'rotate.lua');
  const list = paths.map((p) => JSON.stringify(p)).join(',\n');
  fs.writeFileSync(file, `local paths = {\n${list}\n}\nlocal i = 0\nrequest = function()\n  i = i % #paths + 1\n  return wrk.format("GET", paths[i])\nend\n`);
  return file;
}
