/**
 * The one catalog of every error the API can answer: its status and the message a
 * person reads when the handler has nothing more precise to say. Each code is documented,
 * with its status, in docs/protocol.md's error table (test/errors.test.ts keeps them equal).
 */
export const catalog = {
  invalid_request: { status: 400, message: 'The request is malformed.' },
  invalid_code: { status: 400, message: 'The confirmation code is wrong, expired or already used.' },
  invalid_name: { status: 400, message: 'The name is not valid.' },
  unauthorized: { status: 401, message: 'Log in first: the token is missing, unknown, revoked or expired.' },
  forbidden: { status: 403, message: 'Your role in this publishing identity does not allow this.' },
  login_denied: { status: 403, message: 'This login was denied from the link in the mail.' },
  not_found: { status: 404, message: 'There is nothing here.' },
  no_matching_version: { status: 404, message: 'No version matches.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed here.' },
  read_only_replica: { status: 405, message: 'This server is a read-only replica: log in and make changes at the primary registry.' },
  identity_exists: { status: 409, message: 'A publishing identity with this name exists already.' },
  last_admin: { status: 409, message: 'This would leave the publishing identity without an admin.' },
  version_exists: { status: 409, message: 'This version is registered already.' },
  too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'The request body has the wrong content type.' },
  invalid_bundle: { status: 422, message: 'The bundle is not a gzip of {"outline", "sources"}.' },
  name_mismatch: { status: 422, message: "The bundle's package name differs from the URL's." },
  version_mismatch: { status: 422, message: "The bundle's version differs from the URL's." },
  invalid_outline: { status: 422, message: "The bundle's gren.json is not valid." },
  unknown_dependency: { status: 422, message: 'A dependency has no published version in its range.' },
  visibility_mismatch: { status: 422, message: "The version's private setting differs from the package's." },
  rate_limited: { status: 429, message: 'Too many requests; try again later.' },
  internal: { status: 500, message: 'Something went wrong on our side; it has been logged.' },
  insufficient_storage: { status: 507, message: 'The registry has run out of disk space for this; nothing was changed. Try again later.' },
  unavailable: { status: 503, message: 'The registry cannot do this right now; try again in a moment.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof catalog;

/**
 * The bounds that refuse a request before it does any work, by name: per-client rate limits
 * (answered `429 rate_limited`) and the registry's capacity (`503 unavailable`). A refusal
 * names its bound so that the metrics count refusals by bound; the client sees only the code.
 */
export type Limit =
  | 'login_mail_address'
  | 'login_mail_client'
  | 'login_fetch_client'
  | 'publish_user'
  | 'publish_identity'
  | 'upload_memory_user'
  | 'upload_memory'
  | 'git_queue';

/** An error meant for the client: its code is in the catalog, its message is for a person. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly headers: Record<string, string>;
  /** The bound that refused the request, when one did (see `limited`). */
  readonly limit: Limit | null;
  constructor(code: ErrorCode, message?: string, headers: Record<string, string> = {}, limit: Limit | null = null) {
    super(message ?? catalog[code].message);
    this.name = 'ApiError';
    this.code = code;
    this.status = catalog[code].status;
    this.headers = headers;
    this.limit = limit;
  }

  get body(): { error: ErrorCode; message: string } {
    return { error: this.code, message: this.message };
  }
}

/** Builds a catalog error to throw: `throw fail('version_exists', 'gren-lang/core 7.4.0 is registered already.')`. */
export function fail(code: ErrorCode, message?: string, headers?: Record<string, string>): ApiError {
  return new ApiError(code, message, headers);
}

/** A refusal by one of the registry's bounds: `throw limited('rate_limited', 'publish_user', 'You have published...', { 'Retry-After': '60' })`. */
export function limited(code: 'rate_limited' | 'unavailable', limit: Limit, message: string, headers: Record<string, string>): ApiError {
  return new ApiError(code, message, headers, limit);
}
