import path from 'node:path';
import type { LogFields } from '../gateway/log.ts';
import type { GitCommand, GitEnd, GitProcesses } from './git-processes.ts';

/** One request of Git's smart HTTP protocol for fetching: the ref advertisement, or a fetch. */
export type UploadPackRequest = {
  /** The bare repository. */
  gitDir: string;
  /** `GIT_NAMESPACE` (`author/name`): only that package's refs are seen; null for the whole repository. */
  namespace: string | null;
  /** `uploadpack.hideRefs` values (matched with the namespace stripped): refs the client never sees. */
  hideRefs: string[];
  /** The client's `Git-Protocol` header (`version=2`), or null to speak protocol v0 only. */
  protocol: string | null;
  /** `GET info/refs?service=git-upload-pack`, or `POST git-upload-pack`. */
  service: 'advertise' | 'upload-pack';
  contentType: string | null;
  /** `gzip` when the client compressed the request body (Git does for long negotiations). */
  contentEncoding: string | null;
  /** Aborted when the client hangs up while the request waits for a process or sends its body. */
  signal: AbortSignal;
  label: LogFields;
  /** Takes the client's connection and the body read so far, once a process is granted (see `GitCommand`). */
  connect: GitCommand['connect'];
  /** The answer when Git answers nothing. */
  failure: GitCommand['failure'];
};

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

/** The CGI environment `git http-backend` reads, and the configuration passed as `GIT_CONFIG_*`. */
function cgiEnvironment(request: UploadPackRequest): Record<string, string> {
  const advertise = request.service === 'advertise';
  const env: Record<string, string> = {
    GIT_PROJECT_ROOT: path.dirname(request.gitDir),
    PATH_INFO: `/${path.basename(request.gitDir)}/${advertise ? 'info/refs' : 'git-upload-pack'}`,
    REQUEST_METHOD: advertise ? 'GET' : 'POST',
    QUERY_STRING: advertise ? 'service=git-upload-pack' : '',
    GIT_HTTP_EXPORT_ALL: '1',
    // Neither the machine's nor a user's Git configuration applies: only what is set here.
    GIT_CONFIG_NOSYSTEM: '1',
  };
  if (request.namespace !== null) env['GIT_NAMESPACE'] = request.namespace;
  if (request.protocol !== null) env['GIT_PROTOCOL'] = request.protocol;
  // CONTENT_LENGTH is the spawner's to set: it knows the body it feeds (git-answer.ts).
  if (request.contentType !== null) env['CONTENT_TYPE'] = request.contentType;
  if (request.contentEncoding !== null) env['HTTP_CONTENT_ENCODING'] = request.contentEncoding;
  const config = [...FORCED, ...request.hideRefs.map((ref): [string, string] => ['uploadpack.hideRefs', ref])];
  env['GIT_CONFIG_COUNT'] = String(config.length);
  for (const [i, [key, value]] of config.entries()) {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  }
  return env;
}

/**
 * Serves one smart-HTTP fetch request with Git's own server side: `git http-backend` as a CGI
 * program (it reads the gzip'd bodies, speaks v0 and v2, frames the advertisement), answering on
 * the client's connection from the spawner (git-processes.ts). Resolves once the answer has
 * ended; rejects with `GitBusyError` or `GitStoppedError` when no process could be given, or with
 * what `connect` threw.
 */
export function uploadPack(processes: GitProcesses, request: UploadPackRequest): Promise<GitEnd> {
  const { signal, label, connect, failure } = request;
  return processes.serve({ args: ['http-backend'], env: cgiEnvironment(request), signal, label, connect, failure, listsRefsOnly: (body) => listsRefsOnly(request, body) });
}

/** The first pkt-line of a protocol v2 `ls-refs` request (`0014` is its length, these 16 bytes and its own 4). */
const LS_REFS = Buffer.from('0014command=ls-refs\n');

/**
 * Whether Git only lists refs for this request: the ref advertisement (`info/refs`: in protocol v0
 * every ref, in v2 the capabilities), or a protocol v2 request whose command is `ls-refs`. A body
 * compressed, or too short to tell, counts as a fetch.
 */
export function listsRefsOnly(request: Pick<UploadPackRequest, 'service' | 'protocol' | 'contentEncoding'>, body: Uint8Array): boolean {
  if (request.service === 'advertise') return true;
  if (request.protocol === null || !request.protocol.includes('version=2') || request.contentEncoding !== null) return false;
  return body.length >= LS_REFS.length && LS_REFS.equals(body.subarray(0, LS_REFS.length));
}
