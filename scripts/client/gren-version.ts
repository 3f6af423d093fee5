import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';

/** The compiler's version, or why it could not be known. */
export type GrenVersion = { version: string } | { version: null; why: string };

/** How long `gren --version` may take: on its first run the compiler downloads its back end. */
const versionTimeoutMs = 120_000;

const names = process.platform === 'win32' ? ['gren.cmd', 'gren.exe', 'gren'] : ['gren'];

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The gren a command would run: the command itself when it is a path to gren
 * (`./node_modules/.bin/gren make Main`), else the first gren on the PATH of its environment.
 */
export function findGren(command: string[], env: Record<string, string | undefined>, cwd: string): string | null {
  const program = command[0] ?? '';
  if (program.includes('/') && names.includes(path.basename(program))) {
    const file = path.resolve(cwd, program);
    return isExecutableFile(file) ? file : null;
  }
  for (const dir of (env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    for (const name of names) {
      const file = path.resolve(cwd, dir, name);
      if (isExecutableFile(file)) return file;
    }
  }
  return null;
}

/** The version a `gren --version` output reports: its last line that is a version, since a first run prints download lines before it. */
export function reportedVersion(output: string): string | null {
  const lines = output.split(/\r?\n/).map((line) => line.trim());
  return lines.reverse().find((line) => /^\d+\.\d+\.\d+$/.test(line)) ?? null;
}

function lastLine(text: string): string | null {
  return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== '').at(-1) ?? null;
}

/** Runs `<gren> --version` in the command's environment and reads the version it reports. */
export function askGrenVersion(gren: string, env: Record<string, string | undefined>, cwd: string): Promise<GrenVersion> {
  return new Promise((resolve) => {
    const options = { env, cwd, timeout: versionTimeoutMs, killSignal: 'SIGKILL' as const, maxBuffer: 64 * 1024 };
    const child = execFile(gren, ['--version'], options, (err, stdout, stderr) => {
      const version = reportedVersion(String(stdout));
      if (err) {
        const said = lastLine(`${stdout}\n${stderr}`);
        const why = typeof err.code === 'number' ? `exit code ${err.code}${said === null ? '' : `: ${said}`}` : err.message;
        const how = err.killed ? `did not answer within ${versionTimeoutMs / 1000} seconds` : `failed (${why})`;
        resolve({ version: null, why: `${gren} --version ${how}` });
      } else if (version === null) {
        resolve({ version: null, why: `${gren} --version did not print a version` });
      } else {
        resolve({ version });
      }
    });
    child.stdin?.end();
  });
}

/** The version of the gren a command would run, or why it is not known. */
export async function grenVersionFor(command: string[], env: Record<string, string | undefined>, cwd: string): Promise<GrenVersion> {
  const gren = findGren(command, env, cwd);
  if (gren === null) return { version: null, why: 'gren was not found on the PATH' };
  return askGrenVersion(gren, env, cwd);
}
