import { rawRequest } from '../../test/helpers/http.ts';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

/** The paths docs/protocol.md keeps out of the index, as the gateway's tests list them. */
const ESCAPES = [
  '/index/../package.json',
  '/index/%2e%2e/package.json',
  '/index/packages/%2e%2e/%2e%2e/index.git/HEAD',
  '/index/packages%2Fbench%2Fhot%2Findex.json',
  '/index/.git/HEAD',
  '/index/packages/bench/hot/..%2f..%2f..%2fconfig.json',
  '/index/packages/bench/hot/..%5c..%5cconfig.json',
  '/index/packages/bench%00/hot/index.json',
  '/index/packages/bench/hot/',
  '/index/packages',
  '/index/nonexistent.json',
  '/index.git/config',
  '/index.git/registry.lock',
  '/index.git/objects/../config',
];

/**
 * Asks both servers the same questions and lists every difference that matters to a client:
 * status, body, Cache-Control and Content-Type of the files; 304 on each server's own ETag;
 * HEAD; the paths kept out of the index. Empty when nginx answers as the gateway does.
 */
export async function compareServers(gateway: string, nginx: string, files: string[]): Promise<string[]> {
  const problems: string[] = [];
  for (const file of files) {
    const target = `/index/${file}`;
    const [g, n] = [await rawRequest(gateway, target), await rawRequest(nginx, target)];
    if (g.status !== 200 || n.status !== 200) problems.push(`${target}: ${g.status} from the gateway, ${n.status} from nginx`);
    if (!g.body.equals(n.body)) problems.push(`${target}: the bodies differ`);
    for (const header of ['cache-control', 'content-type']) {
      if (g.headers[header] !== n.headers[header]) problems.push(`${target}: ${header} "${g.headers[header]}" from the gateway, "${n.headers[header]}" from nginx`);
    }
    for (const [name, base, first] of [['gateway', gateway, g], ['nginx', nginx, n]] as const) {
      const again = await rawRequest(base, target, { headers: { 'If-None-Match': String(first.headers.etag) } });
      if (again.status !== 304) problems.push(`${target}: ${name} answers ${again.status} to its own ETag`);
      const head = await rawRequest(base, target, { method: 'HEAD' });
      if (head.status !== 200 || head.headers['content-length'] !== String(first.body.length)) problems.push(`${target}: ${name}'s HEAD differs from its GET`);
    }
  }
  for (const target of ESCAPES) {
    const [g, n] = [await rawRequest(gateway, target), await rawRequest(nginx, target)];
    // nginx refuses a NUL in a path with 400 before any configuration applies.
    const nginxRefused = n.status === 404 || (n.status === 400 && target.includes('%00'));
    if (g.status !== 404 || !nginxRefused) problems.push(`${target}: ${g.status} from the gateway, ${n.status} from nginx (404 expected)`);
  }
  const health = await rawRequest(nginx, '/healthz');
  if (health.status !== 200) problems.push(`/healthz through nginx: ${health.status}`);
  return problems;
}

/** `git clone <nginx>/index.git` into `dir`: true when the clone's HEAD is `head`. */
export function cloneMatches(nginx: string, dir: string, head: string): boolean {
  const target = path.join(dir, 'clone');
  execFileSync('git', ['clone', '--quiet', `${nginx}/index.git`, target], { stdio: 'ignore', timeout: 60_000 });
  return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: target, encoding: 'utf8' }).trim() === head;
}
