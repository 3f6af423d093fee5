import http from 'node:http';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { readCgiHead } from '../../index-repo/cgi-head.ts';

/**
 * The peer of the Git benchmark: `git http-backend` as a CGI program under a bare Node HTTP
 * server, as Git's documentation sets it up: no queue, no authentication, no time limit, run
 * at normal priority unless told (at the nice value given, to tell Git's own cost at the registry's priority from the
 * gateway's). `/git/<author>/<name>.git/...` is served from the package's namespace of `gitDir` with
 * its bundle refs hidden (what the registry shows), `/index.git/...` is the repository whole.
 */
export async function startBareGitServer(gitDir: string, niceness = 0): Promise<{ url: string; close(): Promise<void> }> {
  const command = niceness > 0 ? ['nice', '-n', String(niceness), 'git', 'http-backend'] : ['git', 'http-backend'];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://bare');
    const match = /^\/git\/([^/]+\/[^/]+)\.git(\/.*)$/.exec(url.pathname) ?? /^\/index\.git()(\/.*)$/.exec(url.pathname);
    if (!match) {
      res.writeHead(404).end();
      return;
    }
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '',
      GIT_PROJECT_ROOT: path.dirname(gitDir),
      PATH_INFO: `/${path.basename(gitDir)}${match[2]}`,
      REQUEST_METHOD: req.method ?? 'GET',
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      GIT_HTTP_EXPORT_ALL: '1',
    };
    if (match[1]) Object.assign(env, { GIT_NAMESPACE: match[1], GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'uploadpack.hideRefs', GIT_CONFIG_VALUE_0: 'refs/bundles' });
    if (req.headers['git-protocol']) env['GIT_PROTOCOL'] = String(req.headers['git-protocol']);
    if (req.headers['content-encoding']) env['HTTP_CONTENT_ENCODING'] = String(req.headers['content-encoding']);
    const child = spawn(command[0] as string, command.slice(1), { env, stdio: ['pipe', 'pipe', 'ignore'] });
    req.pipe(child.stdin);
    readCgiHead(child.stdout).then(
      (head) => {
        res.writeHead(head.status, head.headers.flat());
        child.stdout.pipe(res);
      },
      () => res.writeHead(500).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
