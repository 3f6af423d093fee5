import http from 'node:http';
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';

/** A Git host on this machine: Git's own `git http-backend` behind HTTP Basic auth, pushes allowed. */
export type GitHttpServer = {
  /** `http://127.0.0.1:<port>`. */
  url: string;
  port: number;
  /** The URL of a repository below `root`, with the credentials in it (or others: `{ user, password }`). */
  repoUrl(repo: string, credentials?: { user: string; password: string } | null): string;
  /** Every request: method, path with query, and whether its credentials were accepted. */
  requests: Array<{ method: string; path: string; authorized: boolean }>;
  /** Holds every request from now on unanswered (a host that hangs), until `release`. */
  hold(): void;
  /** Answers the held requests and those to come. */
  release(): void;
  /** How many requests are held now. */
  held(): number;
  /** Stops listening and drops open connections (the host is down). */
  close(): Promise<void>;
};

export type GitHttpServerOptions = {
  /** The folder holding the bare repositories served (`GIT_PROJECT_ROOT`). */
  root: string;
  user: string;
  password: string;
  /** A port to listen on (to come back on the same address after `close`); 0 by default. */
  port?: number;
};

function authorized(header: string | undefined, user: string, password: string): boolean {
  const match = /^Basic\s+(\S+)$/i.exec(header ?? '');
  return match !== null && Buffer.from(match[1] as string, 'base64').toString('utf8') === `${user}:${password}`;
}

/** The CGI environment of one request, as a web server gives `git http-backend` (RFC 3875). */
function cgiEnv(req: http.IncomingMessage, root: string, user: string): NodeJS.ProcessEnv {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '',
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    // http-backend enables receive-pack for an authenticated user only.
    REMOTE_USER: user,
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
  };
  if (req.headers['content-length'] !== undefined) env['CONTENT_LENGTH'] = req.headers['content-length'];
  if (req.headers['content-encoding'] !== undefined) env['HTTP_CONTENT_ENCODING'] = req.headers['content-encoding'];
  if (typeof req.headers['git-protocol'] === 'string') env['GIT_PROTOCOL'] = req.headers['git-protocol'];
  return env;
}

/** Runs `git http-backend` for one request: the body goes to its stdin, its CGI answer back to the client. */
function runBackend(req: http.IncomingMessage, res: http.ServerResponse, env: NodeJS.ProcessEnv): void {
  const child = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'ignore'] });
  req.pipe(child.stdin);
  child.stdin.on('error', () => undefined);
  let head = Buffer.alloc(0);
  let headersSent = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') res.statusCode = Number(value.split(' ')[0]);
      else res.setHeader(name, value);
    }
    headersSent = true;
    res.write(head.subarray(end + 4));
  });
  child.on('close', () => {
    if (!headersSent) res.statusCode = 500;
    res.end();
  });
  res.on('close', () => child.kill('SIGKILL'));
}

/** Starts a Git smart-HTTP host on 127.0.0.1 serving the repositories below `root`. */
export async function startGitHttpServer(options: GitHttpServerOptions): Promise<GitHttpServer> {
  const { root, user, password } = options;
  const requests: GitHttpServer['requests'] = [];
  let holding = false;
  const held: Array<() => void> = [];
  const server = http.createServer((req, res) => {
    if (holding) {
      held.push(() => server.emit('request', req, res));
      return;
    }
    const ok = authorized(req.headers.authorization, user, password);
    requests.push({ method: req.method ?? '', path: req.url ?? '', authorized: ok });
    if (!ok) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test git host"' }).end();
      req.resume();
      return;
    }
    runBackend(req, res, cgiEnv(req, root, user));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    requests,
    repoUrl(repo, credentials = { user, password }) {
      const auth = credentials ? `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@` : '';
      return `http://${auth}127.0.0.1:${port}/${repo}`;
    },
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const answer of held.splice(0)) answer();
    },
    held: () => held.length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
