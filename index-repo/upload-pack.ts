import path from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Git's smart HTTP protocol for fetching, as the registry serves it with Git's own server side
 * (`git http-backend`): what a connection handed to the spawner may be asked, and the CGI
 * environment of each request. Both sides use it: the gateway, which routes and authorizes a
 * connection's first request, and the spawner (git-spawner-main.ts), which answers it and the
 * Git client's next requests on the same connection.
 */

/**
 * The most a Git request body may weigh: `git http-backend`'s own bound (`http.maxRequestBuffer`,
 * 10 MiB), past which it refuses the request itself. Git sends a body this large (chunked, not
 * compressed) only for a negotiation of about 200,000 refs.
 */
export const GIT_BODY_LIMIT = 10 * 1024 * 1024;

/**
 * After an answer, how long a connection waits for its client's next request before it is closed
 * (and its place among the Git processes freed). Whole seconds: the answer's `Keep-Alive: timeout=`
 * says it to the client, and 0 would tell it not to ask again.
 */
export const FOLLOW_UP_MS = 1000;
/** The most requests answered on one connection; the last of them closes it. */
export const REQUESTS_PER_CONNECTION = 32;

/** What Git shows a reader of one repository URL. */
export type GitView = {
  /** The bare repository. */
  gitDir: string;
  /** `GIT_NAMESPACE` (`author/name`): only that package's refs are seen; null for the whole repository. */
  namespace: string | null;
  /** `uploadpack.hideRefs` values (matched with the namespace stripped): refs the client never sees. */
  hideRefs: string[];
  /** Whether the client may speak protocol v2 (its `Git-Protocol` header reaches Git); otherwise v0 only. */
  protocolV2: boolean;
};

/** An answer the registry gives itself, in its error catalog's words. */
export type OwnAnswer = { status: number; type: string; body: string };

/**
 * A client's connection as the gateway hands it to the spawner, for one repository: its first
 * request was routed and its reader allowed. The Git client's next requests on the connection
 * (a clone asks two or three times) are answered there too, when they are for the same
 * repository with the same credentials; anything else closes the connection unanswered, and
 * the client asks again on a new one, which the gateway routes.
 */
export type GitSession = {
  view: GitView;
  /** The repository's URL path up to its files (`/git/acme/served.git/`): every request of the session starts with it. */
  prefix: string;
  /** The first request's `Authorization` header (null: none); a later request must carry the same. */
  authorization: string | null;
  /** Whether the connection may stay open for the client's next request (a Git client's); otherwise the first answer closes it. */
  keepAlive: boolean;
  /** The answer when Git answers nothing (it failed before its headers). */
  failure: OwnAnswer;
  /** The answer to a body larger than `GIT_BODY_LIMIT`. */
  tooLarge: OwnAnswer;
};

/** `GET info/refs?service=git-upload-pack`, or `POST git-upload-pack`. */
export type Service = 'advertise' | 'upload-pack';

/**
 * The service a request asks of the session's repository, or null when it is not one of its
 * fetch requests (another repository, another file, a push, the dumb protocol).
 */
export function sessionService(session: Pick<GitSession, 'prefix'>, method: string, url: string): Service | null {
  const queryAt = url.indexOf('?');
  const pathname = queryAt === -1 ? url : url.slice(0, queryAt);
  if (!pathname.startsWith(session.prefix)) return null;
  const file = pathname.slice(session.prefix.length);
  if (file === 'info/refs' && method === 'GET') {
    return new URLSearchParams(queryAt === -1 ? '' : url.slice(queryAt + 1)).get('service') === 'git-upload-pack' ? 'advertise' : null;
  }
  return file === 'git-upload-pack' && method === 'POST' ? 'upload-pack' : null;
}

/**
 * Settings forced on every serving process, whatever the machine's Git configuration says:
 * fetching only, no file of the repository handed out by path, no object by id that the
 * advertised refs do not reach (protocol v0; see ARCHITECTURE.md for v2).
 */
const FORCED: Array<[string, string]> = [
  ['http.uploadpack', 'true'],
  ['http.receivepack', 'false'],
  ['http.getanyfile', 'false'],
  ['uploadpack.allowAnySHA1InWant', 'false'],
  ['uploadpack.allowReachableSHA1InWant', 'false'],
  ['uploadpack.allowTipSHA1InWant', 'false'],
];

const header = (headers: IncomingHttpHeaders, name: string): string | null => {
  const value = headers[name];
  return typeof value === 'string' && value !== '' ? value : null;
};

/** The client's `Git-Protocol` header, when the view lets it reach Git. */
const protocolOf = (view: GitView, headers: IncomingHttpHeaders) => (view.protocolV2 ? header(headers, 'git-protocol') : null);

/**
 * The CGI environment `git http-backend` reads for one request, and the configuration passed as
 * `GIT_CONFIG_*`; `contentLength` is the body's (null: none, a GET).
 */
export function cgiEnvironment(view: GitView, service: Service, headers: IncomingHttpHeaders, contentLength: number | null): Record<string, string> {
  const advertise = service === 'advertise';
  const env: Record<string, string> = {
    GIT_PROJECT_ROOT: path.dirname(view.gitDir),
    PATH_INFO: `/${path.basename(view.gitDir)}/${advertise ? 'info/refs' : 'git-upload-pack'}`,
    REQUEST_METHOD: advertise ? 'GET' : 'POST',
    QUERY_STRING: advertise ? 'service=git-upload-pack' : '',
    GIT_HTTP_EXPORT_ALL: '1',
    // Neither the machine's nor a user's Git configuration applies: only what is set here.
    GIT_CONFIG_NOSYSTEM: '1',
  };
  if (view.namespace !== null) env['GIT_NAMESPACE'] = view.namespace;
  const protocol = protocolOf(view, headers);
  if (protocol !== null) env['GIT_PROTOCOL'] = protocol;
  if (contentLength !== null) env['CONTENT_LENGTH'] = String(contentLength);
  const contentType = header(headers, 'content-type');
  if (contentType !== null) env['CONTENT_TYPE'] = contentType;
  // `gzip` when the client compressed the body (Git does for long negotiations).
  const contentEncoding = header(headers, 'content-encoding');
  if (contentEncoding !== null) env['HTTP_CONTENT_ENCODING'] = contentEncoding;
  const config = [...FORCED, ...view.hideRefs.map((ref): [string, string] => ['uploadpack.hideRefs', ref])];
  env['GIT_CONFIG_COUNT'] = String(config.length);
  for (const [i, [key, value]] of config.entries()) {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  }
  return env;
}

/** The first pkt-line of a protocol v2 `ls-refs` request (`0014` is its length, these 16 bytes and its own 4). */
const LS_REFS = Buffer.from('0014command=ls-refs\n');

/**
 * Whether Git only lists refs for this request, given its body's first bytes: the ref
 * advertisement (`info/refs`: in protocol v0 every ref, in v2 the capabilities), or a protocol v2
 * request whose command is `ls-refs`. That is work bounded by the repository's refs, a few
 * milliseconds, run at the registry's priority so that a ref listing does not wait behind
 * publishes; anything else builds a pack and runs at the lower one. A body compressed, or too
 * short to tell, counts as a fetch.
 */
export function listsRefsOnly(view: GitView, service: Service, headers: IncomingHttpHeaders, start: Uint8Array): boolean {
  if (service === 'advertise') return true;
  if (!protocolOf(view, headers)?.includes('version=2') || header(headers, 'content-encoding') !== null) return false;
  return start.length >= LS_REFS.length && LS_REFS.equals(start.subarray(0, LS_REFS.length));
}
