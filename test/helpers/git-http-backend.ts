import http from 'node:http';
import type net from 'node:net';
import { spawn } from 'node:child_process';

/**
 * A bare smart-HTTP Git server for client tests: Git's own `git http-backend` as a CGI behind
 * node:http, serving bare repositories at the registry's package URLs. `/git/<author>/<name>.git`
 * serves `<views['']>/<author>/<name>.git` and `/git/gren-<v>/<author>/<name>.git` serves
 * `<views['gren-<v>']>/...`, so a test decides what each view shows by what it puts in each
 * folder. Only fetching is served (upload-pack); with `token` set, every request needs it as
 * HTTP Basic (the password) or Bearer: none gets a 401 that makes git ask for credentials, a
 * wrong one a 404.
 */

export type SeenRequest = { method: string; path: string; authorization: string | null };

export type GitHttpBackend = {
  url: string;
  /** Every request answered so far. */
  requests: SeenRequest[];
  close(): Promise<void>;
};

const packagePath = /^\/git\/(?:(gren-\d+\.\d+\.\d+)\/)?([A-Za-z0-9-]+\/[A-Za-z0-9-]+\.git\/(?:info\/refs|git-upload-pack))$/;

/** The token a request carries, as Bearer or as Basic's password. */
function presentedToken(authorization: string | undefined): string | null {
  const [scheme = '', value = ''] = (authorization ?? '').split(' ');
  if (scheme.toLowerCase() === 'bearer') return value;
  if (scheme.toLowerCase() !== 'basic') return null;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  return decoded.slice(decoded.indexOf(':') + 1);
}

/** Runs `git http-backend` for one request and relays its CGI answer. */
function runBackend(req: http.IncomingMessage, res: http.ServerResponse, root: string, pathInfo: string, query: string): void {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    PATH_INFO: pathInfo,
    QUERY_STRING: query,
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
  };
  if (req.headers['git-protocol']) env['GIT_PROTOCOL'] = String(req.headers['git-protocol']);
  if (req.headers['content-encoding']) env['HTTP_CONTENT_ENCODING'] = String(req.headers['content-encoding']);
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  child.stdin.on('error', () => {}); // git may answer before reading the whole request
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let started = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (started) return void res.write(chunk);
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    started = true;
    const headers: Record<string, string> = {};
    let status = 200;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const [name, value] = [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    res.writeHead(status, headers);
    res.write(head.subarray(end + 4));
  });
  child.stdout.on('end', () => (started ? res.end() : res.writeHead(502).end()));
  child.once('error', () => res.writeHead(502).end());
}

export async function startGitHttpBackend(options: { views: Record<string, string>; token?: string }): Promise<GitHttpBackend> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push({ method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization ?? null });
    const match = packagePath.exec(url.pathname);
    const root = match ? options.views[match[1] ?? ''] : undefined;
    const fetching = url.pathname.endsWith('/git-upload-pack') || url.searchParams.get('service') === 'git-upload-pack';
    if (!match || root === undefined || !fetching) return void res.writeHead(404).end();
    if (options.token !== undefined) {
      const token = presentedToken(req.headers.authorization);
      if (token === null) return void res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="Gren registry"' }).end();
      if (token !== options.token) return void res.writeHead(404).end();
    }
    runBackend(req, res, root, `/${match[2]}`, url.search.slice(1));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
