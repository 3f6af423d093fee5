import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { CommitLog } from './commit-log.ts';
import { RepoWriter } from './repo-writer.ts';
import { ServedFolder } from './served-folder.ts';
import { placePack } from './object-store.ts';
import { encodePack } from './pack-writer.ts';
import { StageTimer } from './stage-timer.ts';
import type { EncodedObject } from './git-object.ts';
import { describeError, type Logger } from './types.ts';
import { asBuffer, ownedMemory } from './buffers.ts';
import { serializeError, type SerializedError, type WriterBatch, type WriterMessage, type WriterOptions, type WriterRequest, type WrittenBatch } from './writer-thread.ts';

// The writer thread of one index repository (see `WriterThread`): a `RepoWriter` on the commit
// log, the repository's pack folder and refs, and its served folder, answering the commit path's
// requests in the order they come.

const port = parentPort;
if (!port) throw new Error('writer-thread-main.ts runs as a worker thread (see writer-thread.ts)');
const options = workerData as WriterOptions;
const post = (message: WriterMessage) => port.postMessage(message);
const log: Logger = {
  info: (event, fields) => post({ log: 'info', event, fields }),
  warn: (event, fields) => post({ log: 'warn', event, fields }),
  error: (event, fields) => post({ log: 'error', event, fields }),
};

lowerPriority(options.nice);

// The opening thread replayed and checkpointed the log before starting this one: nothing to read.
const commitLog = CommitLog.resume(options.logDir, options.commitLog);
const objectsDir = path.join(options.gitDir, 'objects');
fs.mkdirSync(path.join(objectsDir, 'pack'), { recursive: true });
const served = options.servedDir ? new ServedFolder(options.servedDir) : null;
const packs = { placePack: placePack.bind(null, objectsDir), adoptPack: () => Promise.resolve() };
const writer = new RepoWriter({ gitDir: options.gitDir, name: options.name, store: packs, served, log, commitLog });

/**
 * Frees now the memory of a large buffer this thread received and no longer needs (a bundle's
 * sources, say): this thread allocates little, so its garbage collector runs seldom, and buffers
 * of 49 MiB left to it stayed held three or four at a time. Only a buffer that owns all of its
 * memory, which nothing else here shares, is freed (`ArrayBuffer.prototype.transfer` to no bytes).
 */
function release(bytes: Uint8Array): void {
  ownedMemory(bytes, 64 * 1024)?.transfer(0);
}

async function write(batch: WriterBatch): Promise<WrittenBatch> {
  const timer = batch.timings ? new StageTimer() : null;
  const objects: EncodedObject[] = batch.objects.map((o) => ({ oid: o.oid, type: o.type, wrapped: asBuffer(o.wrapped) }));
  const pack = objects.length > 0 ? encodePack(objects) : null;
  for (const object of batch.objects) release(object.wrapped);
  timer?.mark('pack_encoded');
  const record = { pack, set: batch.set, deleted: batch.deleted, main: batch.main, served: batch.served.map((change) => change.path) };
  let written: Awaited<ReturnType<RepoWriter['write']>>;
  try {
    written = await writer.write(record, batch.served, timer);
  } finally {
    for (const change of batch.served) if ('content' in change) release(change.content);
  }
  // The batch is in place whatever becomes of its served copy: the commit path follows it, then reports this.
  let servedError: SerializedError | null = null;
  try {
    written.publishServed(batch.head);
  } catch (err) {
    servedError = serializeError(err);
  }
  timer?.mark('served_published');
  return { pack: pack && { name: pack.name, idx: pack.idx }, stages: timer?.stages ?? null, servedError };
}

async function answer(request: WriterRequest): Promise<unknown> {
  switch (request.kind) {
    case 'write':
      return write(request.batch);
    case 'checkpoint':
      return writer.checkpoint();
    case 'eraseLog':
      return writer.eraseLog();
    case 'close':
      await writer.close();
      await served?.settle();
      return undefined;
  }
}

port.on('message', (request: WriterRequest) => {
  answer(request).then(
    (value) => post({ id: request.id, value }),
    (err: unknown) => post({ id: request.id, error: serializeError(err) }),
  );
});
/**
 * Lowers this thread's priority by `nice` below the process's: on Linux, setpriority(2) given a
 * thread's id changes that thread alone (`/proc/thread-self` names it). Elsewhere the thread
 * keeps the process's priority.
 */
function lowerPriority(nice: number): void {
  if (nice === 0 || process.platform !== 'linux') return;
  try {
    const thread = Number(path.basename(fs.readlinkSync('/proc/thread-self')));
    os.setPriority(thread, Math.min(19, os.getPriority(thread) + nice));
  } catch (err) {
    log.warn('writer_priority_unchanged', { repo: options.name, nice, ...describeError(err) });
  }
}

post({ ready: true });
