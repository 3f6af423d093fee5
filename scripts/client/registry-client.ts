import { CliError } from './cli-error.ts';

export type Auth = 'required' | 'optional' | 'none';

export type CallOptions = {
  body?: unknown;
  auth?: Auth;
  signal?: AbortSignal;
};

export type Answer<T> = { status: number; body: T };

/**
 * The registry's HTTP API, as docs/protocol.md describes it. Every refusal becomes a CliError
 * carrying the registry's error code and its sentence; a registry that cannot be reached is
 * `unreachable`.
 */
export type RegistryClient = {
  /** The registry's base URL, without a trailing slash. */
  readonly url: string;
  readonly hasToken: boolean;
  call<T>(method: string, path: string, options?: CallOptions): Promise<Answer<T>>;
  /** PUTs `bytes` as application/gzip, reporting how many bytes were handed to the connection. */
  upload<T>(path: string, bytes: Uint8Array, onProgress: (sent: number) => void): Promise<Answer<T>>;
};

const uploadChunk = 64 * 1024;

/** Makes a registry address canonical: a URL without trailing slash, so it can key the credentials. */
export function normaliseRegistryUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError('usage', `"${raw}" is not a registry address: expected a URL such as https://registry.example.com.`, { exitCode: 2 });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliError('usage', `"${raw}" is not a registry address: it must start with http:// or https://.`, { exitCode: 2 });
  }
  return url.href.replace(/\/+$/, '');
}

async function readBody(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function refusal(response: Response, body: unknown, usedToken: boolean): CliError {
  const error = body as { error?: unknown; message?: unknown } | null;
  if (typeof error?.error !== 'string' || typeof error.message !== 'string') {
    return new CliError('unexpected_response', `The registry answered ${response.status} ${response.statusText} without saying why.`, { status: response.status });
  }
  let hint: string | undefined;
  if (response.status === 401) {
    hint = usedToken ? 'Your login may have expired or been revoked: run gren-registry login.' : 'Run gren-registry login first.';
  } else if (response.status === 429) {
    const retry = response.headers.get('retry-after');
    hint = retry ? `Try again in ${retry} seconds.` : 'Try again later.';
  }
  return new CliError(error.error, error.message, { status: response.status, ...(hint ? { hint } : {}) });
}

function unreachable(url: string, err: unknown): CliError {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err as Error).message;
  return new CliError('unreachable', `Could not reach the registry at ${url} (${why}).`, {
    hint: 'Check that it is running, or give its address with --registry or GREN_REGISTRY.',
  });
}

export function registryClient(options: { url: string; token: string | null; userAgent: string }): RegistryClient {
  const { url, token } = options;
  const headersFor = (auth: Auth, extra: Record<string, string>): Record<string, string> => {
    if (auth === 'required' && token === null) {
      throw new CliError('not_logged_in', `You are not logged in to ${url}.`, { hint: 'Run gren-registry login first.' });
    }
    const headers: Record<string, string> = { 'user-agent': options.userAgent, accept: 'application/json', ...extra };
    if (auth !== 'none' && token !== null) headers['authorization'] = `Bearer ${token}`;
    return headers;
  };
  const send = async <T>(path: string, init: RequestInit & { headers: Record<string, string> }): Promise<Answer<T>> => {
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, init);
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw unreachable(url, err);
    }
    const body = await readBody(response);
    if (!response.ok) throw refusal(response, body, 'authorization' in init.headers);
    return { status: response.status, body: body as T };
  };
  return {
    url,
    hasToken: token !== null,
    call(method, path, call = {}) {
      const json = call.body === undefined ? {} : { 'content-type': 'application/json' };
      const headers = headersFor(call.auth ?? 'required', json);
      return send(path, {
        method,
        headers,
        ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
        ...(call.signal ? { signal: call.signal } : {}),
      });
    },
    upload(path, bytes, onProgress) {
      const headers = headersFor('required', { 'content-type': 'application/gzip', 'content-length': String(bytes.length) });
      let sent = 0;
      const body = new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            if (sent >= bytes.length) {
              controller.close();
              return;
            }
            const chunk = bytes.subarray(sent, sent + uploadChunk);
            sent += chunk.length;
            controller.enqueue(chunk);
            onProgress(sent);
          },
        },
        { highWaterMark: 0 },
      );
      return send(path, { method: 'PUT', headers, body, duplex: 'half' } as RequestInit & { headers: Record<string, string> });
    },
  };
}
