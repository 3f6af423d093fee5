import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { credentialsStore, type CredentialsStore } from './credentials.ts';
import { createOutput, type Output } from './output.ts';
import { lineReader, type LineReader } from './prompt.ts';
import { normaliseRegistryUrl, registryClient, type RegistryClient } from './registry-client.ts';
import type { CommandInput } from './args.ts';

export const defaultRegistry = 'http://localhost:3000';
export const userAgent = 'gren-registry/0.1.0';

/** Everything a command may use, built once by the entry point from the process. */
export type Context = {
  /** The registry's base URL, without a trailing slash. */
  registry: string;
  out: Output;
  credentials: CredentialsStore;
  /** The client, authenticated by GREN_REGISTRY_TOKEN or else by the saved login for this registry. */
  client: RegistryClient;
  /** A client that uses `token` (or none), for login and logout. */
  clientWith(token: string | null): RegistryClient;
  /** The user's typed lines; opened on first use, closed by the entry point. */
  lines(): LineReader;
  /** Whether a person is at the keyboard (stdin is a terminal). */
  interactive: boolean;
  cwd: string;
  /** The environment this client runs in, which a command it runs inherits. */
  env: Record<string, string | undefined>;
  /** The token in use: GREN_REGISTRY_TOKEN, else the saved login for this registry. */
  token: string | null;
  /** Where the token in use comes from. */
  tokenSource: 'GREN_REGISTRY_TOKEN' | 'login' | null;
  /** The command line that starts this client again: the Node binary and the script, absolute paths. */
  self: string[];
};

export type ProcessLike = {
  env: Record<string, string | undefined>;
  cwd: string;
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean };
  /** The command line that starts this client again, for git to run it as a credential helper. */
  self: string[];
};

/** Builds the context of one run from the process and the common options (--registry, --json). */
export function createContext(proc: ProcessLike, input: CommandInput): Context & { close(): void } {
  const raw = (input.options['registry'] as string | undefined) ?? proc.env['GREN_REGISTRY'] ?? defaultRegistry;
  const registry = normaliseRegistryUrl(raw.trim() === '' ? defaultRegistry : raw.trim());
  const home = proc.env['HOME']?.trim() || os.homedir();
  const credentials = credentialsStore({ home });
  const envToken = proc.env['GREN_REGISTRY_TOKEN']?.trim() || null;
  const saved = envToken === null ? credentials.get(registry) : null;
  const token = envToken ?? saved?.sessionToken ?? null;
  const clientWith = (t: string | null) => registryClient({ url: registry, token: t, userAgent });
  let reader: LineReader | null = null;
  return {
    registry,
    out: createOutput({ stdout: proc.stdout, stderr: proc.stderr, json: input.options['json'] === true }),
    credentials,
    client: clientWith(token),
    clientWith,
    lines: () => (reader ??= lineReader(proc.stdin, proc.stderr)),
    interactive: proc.stdin.isTTY === true,
    cwd: proc.cwd,
    env: proc.env,
    token,
    self: proc.self,
    tokenSource: envToken !== null ? 'GREN_REGISTRY_TOKEN' : saved ? 'login' : null,
    close: () => reader?.close(),
  };
}
