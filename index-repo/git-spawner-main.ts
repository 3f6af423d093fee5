// The Git spawner: a small process of its own, started by the registry (git-spawner.ts), that
// forks the Git processes serving requests. Forking from the registry itself would copy its
// page tables each time (milliseconds at a few hundred MB, during which its event loop, and so
// every publish, stands still); forked from here it costs a small process's fork, on this
// process's time. Every Git process runs at a lower CPU priority (`nice`).
//
// Control comes over the IPC channel: `{type: "run", id, file, args, env}` in, and
// `{type: "started", id, pid}`, `{type: "exit", id, code, signal, stderr}` out. Data goes over a
// Unix socket in a folder only this user can enter: the registry connects, sends the run's id
// (unguessable, so that nothing else can make this process run anything) and a newline, and the
// connection becomes the Git process's stdin and stdout.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawn } from 'node:child_process';

type Run = { id: string; file: string; args: string[]; env: Record<string, string> };

const [socketPath, niceness] = process.argv.slice(2) as [string, string];
const STDERR_KEPT = 2000;
const ID_LINE = 33;

// As `nice -n`: lower than the registry by this much (19 at most), whatever the registry's own.


/**
 * What to exec: the run under `nice -n`, so that it and everything it forks (upload-pack,
 * pack-objects) start at the lower priority. (`os.setPriority` on the new pid would race with
 * Git's own first fork; this process itself stays at the registry's priority, to answer promptly.)
 */
function command(run: Run): [string, string[]] {
  return niceness === '0' ? [run.file, run.args] : ['nice', ['-n', niceness, run.file, ...run.args]];
}

const runs = new Map<string, Run>();
const connections = new Map<string, net.Socket>();

function start(run: Run, connection: net.Socket): void {
  runs.delete(run.id);
  connections.delete(run.id);
  let stderr = '';
  let child;
  try {
    child = spawn(...command(run), { env: run.env, detached: true, stdio: [connection, connection, 'pipe'] });
  } catch (err) {
    connection.destroy();
    process.send?.({ type: 'exit', id: run.id, code: null, signal: null, stderr: String(err) });
    return;
  }
  // The Git process holds its own copy of the connection; this one would keep it open.
  connection.destroy();
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < STDERR_KEPT) stderr += chunk.toString('utf8');
  });
  child.once('error', (err) => process.send?.({ type: 'exit', id: run.id, code: null, signal: null, stderr: stderr + err.message }));
  child.once('spawn', () => process.send?.({ type: 'started', id: run.id, pid: child.pid }));
  child.once('close', (code, signal) => process.send?.({ type: 'exit', id: run.id, code, signal, stderr }));
}

process.on('message', (message: { type: 'run' } & Run) => {
  if (message.type !== 'run') return;
  const connection = connections.get(message.id);
  if (connection) start(message, connection);
  else runs.set(message.id, message);
});

/** Reads the id line (the registry sends nothing more before `started`), then pairs the connection with its run. */
const server = net.createServer({ allowHalfOpen: true }, (connection) => {
  let line = '';
  connection.on('error', () => {});
  const onData = (chunk: Buffer) => {
    line += chunk.toString('latin1');
    if (line.length < ID_LINE) return;
    connection.off('data', onData);
    connection.pause();
    const id = line.slice(0, ID_LINE - 1);
    const run = runs.get(id);
    if (line.length !== ID_LINE || line[ID_LINE - 1] !== '\n') connection.destroy();
    else if (run) start(run, connection);
    else {
      connections.set(id, connection);
      // Its run is on its way over the IPC channel; a connection nothing claims is dropped.
      setTimeout(() => connections.get(id) === connection && connections.delete(id) && connection.destroy(), 10_000).unref();
    }
  };
  connection.on('data', onData);
});

// The registry gone, nothing is left to serve: the Git processes end as their connections close,
// and the socket's private folder goes.
process.on('disconnect', () => {
  server.close();
  fs.rmSync(path.dirname(socketPath), { recursive: true, force: true });
  process.exit(0);
});

server.listen(socketPath, () => process.send?.({ type: 'ready' }));
