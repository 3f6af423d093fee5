/**
 * The accounts schema, one entry per version, never edited once released: a change is a
 * new entry. Times are milliseconds since the epoch; every secret is stored only as its
 * SHA-256 (`*_hash`), and the confirmation code as an HMAC keyed by the fetch token,
 * which the registry does not keep.
 */
export const migrations: readonly string[] = [
  `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
  );

  CREATE TABLE login_requests (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    fetch_hash BLOB NOT NULL UNIQUE,
    code_hash BLOB NOT NULL,
    link_hash BLOB NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    expires INTEGER NOT NULL,
    wrong_codes INTEGER NOT NULL DEFAULT 0,
    confirmed INTEGER,
    used INTEGER
  );
  CREATE INDEX login_requests_expires ON login_requests (expires);

  CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    token_hash BLOB NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    last_used INTEGER,
    revoked INTEGER
  );

  CREATE TABLE identities (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    created INTEGER NOT NULL
  );

  -- Keyed by email, not by user: an address may be a member before it ever logs in.
  CREATE TABLE memberships (
    identity_id INTEGER NOT NULL REFERENCES identities (id),
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('download', 'publish', 'admin')),
    added INTEGER NOT NULL,
    PRIMARY KEY (identity_id, email)
  );
  CREATE INDEX memberships_email ON memberships (email);

  CREATE TABLE tokens (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    identity_id INTEGER NOT NULL REFERENCES identities (id),
    role TEXT NOT NULL CHECK (role IN ('download', 'publish')),
    token_hash BLOB NOT NULL UNIQUE,
    created INTEGER NOT NULL,
    expires INTEGER,
    last_used INTEGER,
    revoked INTEGER
  );
  CREATE INDEX tokens_user ON tokens (user_id);
  `,
  // Where each login was asked from (shown on the link's page), a login denied from its page,
  // and where each session and token was last used (listed to their owner).
  `
  ALTER TABLE login_requests ADD COLUMN client_address TEXT NOT NULL DEFAULT '';
  ALTER TABLE login_requests ADD COLUMN user_agent TEXT NOT NULL DEFAULT '';
  ALTER TABLE login_requests ADD COLUMN denied INTEGER;

  ALTER TABLE sessions ADD COLUMN last_address TEXT;
  ALTER TABLE sessions ADD COLUMN last_user_agent TEXT;
  CREATE INDEX sessions_user ON sessions (user_id);

  ALTER TABLE tokens ADD COLUMN last_address TEXT;
  ALTER TABLE tokens ADD COLUMN last_user_agent TEXT;
  `,
];
