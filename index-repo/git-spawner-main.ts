// The Git spawner: a small process of its own, started by the registry (git-spawner.ts), that
// answers Git's requests on their clients' connections. The registry decides (the route, who may
// read, the bounds), then hands the connection over with the request; from there this process
// forks `git http-backend`, feeds it the body, and writes its answer (git-answer.ts). So the
// registry's event loop, busy with publishes, is not on a clone's way, and a fork here copies a
// small process's page tables, not the registry's. A Git process that builds a pack runs at a lower
// CPU priority (`nice`, as the request says); this process keeps the registry's, to answer promptly.
//
// Control goes over the IPC channel (advanced serialization, so that a body is bytes):
// `{type: "serve", id, niceness, ...AnswerRequest}` with the connection's handle, and `{type: "stop", id}`,
// in; `{type: "started", id, pid}` and `{type: "ended", id, ...AnswerEnd}` out.
import net from 'node:net';
import { answer, type Answer } from './git-answer.ts';
import type { SpawnRequest } from './git-spawner.ts';

type Serve = { type: 'serve'; id: string } & SpawnRequest;
type Stop = { type: 'stop'; id: string };

const answers = new Map<string, Answer>();

/**
 * What to exec: the program under `nice -n`, so that it and everything it forks (upload-pack,
 * pack-objects) start at the lower priority. (`os.setPriority` on the new pid would race with
 * Git's own first fork.)
 */
function command(file: string, args: string[], niceness: number): [string, string[]] {
  return niceness === 0 ? [file, args] : ['nice', ['-n', String(niceness), file, ...args]];
}

function serve(message: Serve, handle: unknown): void {
  const { type: _type, id, niceness, ...request } = message;
  if (!handle) {
    process.send?.({ type: 'ended', id, code: null, signal: null, stderr: 'the connection did not arrive', status: null, bytes: 0, aborted: false });
    return;
  }
  // The handle of a TCP connection, made a socket as Node makes one of a socket it is sent.
  const socket = new net.Socket({ handle, readable: true, writable: true } as net.SocketConstructorOpts);
  const [file, args] = command(request.file, request.args, niceness);
  const running = answer({ ...request, file, args }, socket, {
    started: (pid) => process.send?.({ type: 'started', id, pid }),
    ended: (end) => {
      answers.delete(id);
      process.send?.({ type: 'ended', id, ...end });
    },
  });
  answers.set(id, running);
}

process.on('message', (message: Serve | Stop, handle: unknown) => {
  if (message.type === 'stop') answers.get(message.id)?.stop();
  else if (message.type === 'serve') serve(message, handle);
});

// The registry gone, nothing is left to answer for: every answer is cut, its processes killed.
process.on('disconnect', () => {
  for (const running of answers.values()) running.stop();
  process.exit(0);
});

process.send?.({ type: 'ready' });
