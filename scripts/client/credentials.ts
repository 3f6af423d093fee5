import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { CliError } from './cli-error.ts';

/** One login: the address it was made with and the session token the registry gave. */
export type Session = { email: string; sessionToken: string };

/**
 * The file `$HOME/.gren/user`: `{"registries": {"<registry URL>": {"email", "sessionToken"}}}`,
 * one session per registry, so that logging in to a local registry keeps the login to
 * another. The folder is created with mode 0700 and the file is always written whole,
 * with mode 0600, through a temporary file renamed over it.
 */
export type CredentialsStore = {
  readonly file: string;
  get(registry: string): Session | null;
  set(registry: string, session: Session): void;
  /** Forgets the session of `registry`; the file is removed when no session is left. */
  remove(registry: string): void;
};

type FileContent = { registries: Record<string, Session> };

function isSession(value: unknown): value is Session {
  const v = value as Partial<Session> | null;
  return typeof v === 'object' && v !== null && typeof v.email === 'string' && typeof v.sessionToken === 'string';
}

function parse(file: string, text: string): FileContent {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  const registries = (value as Partial<FileContent> | null)?.registries;
  if (typeof registries !== 'object' || registries === null || !Object.values(registries).every(isSession)) {
    throw new CliError('invalid_credentials', `${file} is not a credentials file written by gren-registry.`, {
      hint: 'Remove it, then log in again.',
    });
  }
  return { registries };
}

/** Writes `text` to `file` with mode 0600 so that a crash leaves the old file or the new one, never half of one. */
function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  const fd = fs.openSync(temporary, 'wx', 0o600);
  try {
    fs.writeFileSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(temporary, file);
  } catch (err) {
    fs.rmSync(temporary, { force: true });
    throw err;
  }
  const dir = fs.openSync(path.dirname(file), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}

export function credentialsStore(options: { home: string }): CredentialsStore {
  const folder = path.join(options.home, '.gren');
  const file = path.join(folder, 'user');
  const read = (): FileContent => {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { registries: {} };
      throw err;
    }
    return parse(file, text);
  };
  const write = (content: FileContent) => {
    if (Object.keys(content.registries).length === 0) {
      fs.rmSync(file, { force: true });
      return;
    }
    fs.mkdirSync(folder, { recursive: true, mode: 0o700 });
    writeAtomically(file, `${JSON.stringify(content, null, 2)}\n`);
  };
  return {
    file,
    get: (registry) => read().registries[registry] ?? null,
    set(registry, session) {
      const content = read();
      content.registries[registry] = session;
      write(content);
    },
    remove(registry) {
      const content = read();
      if (!(registry in content.registries)) return;
      delete content.registries[registry];
      write(content);
    },
  };
}
