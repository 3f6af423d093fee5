import { AssertionError } from 'node:assert';
import http from 'node:http';

/** Anything ava's `t` offers that the helpers use to count a passed check. */
export type Counts = { pass(message?: string): void };

/**
 * Checks a refusal: the status and the catalog code together, and a message for a person.
 * Throws (failing the test) with the whole body when either differs; returns the body.
 * Pass ava's `t` to count the check as an assertion in a test that makes no other.
 */
export async function expectError(res: Response, status: number, code: string, t?: Counts): Promise<{ error: string; message: string }> {
  const text = await res.text();
  let body: { error?: unknown; message?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // Reported below with the raw text.
  }
  if (res.status !== status || body.error !== code || typeof body.message !== 'string' || body.message === '') {
    throw new AssertionError({
      message: `Expected ${status} ${code}, got ${res.status} ${text.slice(0, 500)}`,
      actual: { status: res.status, error: body.error },
      expected: { status, error: code },
      operator: 'expectError',
    });
  }
  t?.pass(`${status} ${code}`);
  return { error: code, message: body.message };
}

export type CallOptions = { token?: string | null; body?: unknown; headers?: Record<string, string> };

/**
 * One JSON call to the registry: `call(reg.url, 'POST', '/tokens', { token, body })`.
 * A body is sent as JSON; the response is returned as it is.
 */
export function call(baseUrl: string, method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(options.body);
  }
  return fetch(new URL(path, baseUrl), { method, headers, ...(body === undefined ? {} : { body }) });
}

/** Reads a JSON answer after checking its status; throws with the body when the status differs. */
export async function expectJson<T = any>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  if (res.status !== status) {
    throw new AssertionError({ message: `Expected ${status}, got ${res.status} ${text.slice(0, 500)}`, actual: res.status, expected: status, operator: 'expectJson' });
  }
  return JSON.parse(text) as T;
}

export type RawAnswer = { status: number; headers: http.IncomingHttpHeaders; body: Buffer };

/**
 * One request with the target sent exactly as written: fetch() would resolve `..` and
 * `%2e%2e` before sending, which hides what a path-escape check must see.
 */
export function rawRequest(base: string, target: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}/`, { path: target, method: options.method ?? 'GET', headers: options.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}
