import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { LogFields } from '../gateway/log.ts';
import { GitStoppedError, type GitEnd, type GitProcesses } from './git-processes.ts';
import { readCgiHead } from './cgi-head.ts';

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
  contentLength: string | null;
  /** `gzip` when the client compressed the request body (Git does for long negotiations). */
  contentEncoding: string | null;
  body: Readable;
  /** Aborted when the client hangs up: the process group is killed at once. */
  signal: AbortSignal;
  label: LogFields;
};

/** Git's answer: status and headers as `git http-backend` gave them, the body to stream, and the process's end. */
export type UploadPackResponse = { status: number; headers: Array<[string, string]>; body: Readable; ended: Promise<GitEnd> };

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
  if (request.contentType !== null) env['CONTENT_TYPE'] = request.contentType;
  if (request.contentLength !== null) env['CONTENT_LENGTH'] = request.contentLength;
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
 * program (it reads the gzip'd bodies, speaks v0 and v2, frames the advertisement), in a
 * process of `processes`. Resolves once Git has sent its headers; rejects with `GitBusyError`
 * or `GitStoppedError` when no process could be given, or with an Error when Git answered
 * nothing (the process is then ended and logged).
 */
export async function uploadPack(processes: GitProcesses, request: UploadPackRequest): Promise<UploadPackResponse> {
  const run = await processes.start({ args: ['http-backend'], env: cgiEnvironment(request), signal: request.signal, label: request.label });
  if (request.service === 'upload-pack') pipeline(request.body, run.stdin).catch(() => run.stdin.destroy());
  else run.stdin.end();
  try {
    const head = await readCgiHead(run.stdout);
    return { ...head, body: run.stdout, ended: run.ended };
  } catch (err) {
    run.kill();
    const end = await run.ended;
    throw end.stopped ? new GitStoppedError(end.stopped) : err;
  }
}
