import { Worker } from 'node:worker_threads';
import type { CommitLogOptions } from './commit-log.ts';
import type { EncodedObject } from './git-object.ts';
import type { FileChange, Logger } from './types.ts';
import { asBuffer, ownedMemory } from './buffers.ts';

/** What the writer thread is started with: where the repository, its commit log and its served folder are, and its nice value (see `OpenIndexRepoOptions.writerNice`). */
export type WriterOptions = { gitDir: string; name: string; logDir: string; servedDir: string | null; commitLog: CommitLogOptions | undefined; nice: number };

/**
 * One batch of commits, as the commit path hands it to the writer: its new objects (to encode as
 * one pack), the content refs it sets and deletes, where `main` moves, the served folder's changes,
 * and `head`, the commit the served folder equals once they are in place.
 */
export type WriterBatch = {
  objects: EncodedObject[];
  set: Array<[string, string]>;
  deleted: string[];
  main: string | null;
  served: FileChange[];
  head: string;
  /** Whether to time the batch's stages. */
  timings: boolean;
};

/**
 * A batch written: the pack put in place (for the object store to read from), where the time went
 * when asked, and the error that kept its served files from their place (the batch itself is
 * durable and in place all the same).
 */
export type WrittenBatch = { pack: { name: string; idx: Buffer } | null; stages: Record<string, number> | null; servedError: SerializedError | null };

/** What the commit path asks of the writer. */
export type BatchWriter = {
  /**
   * Encodes the batch's objects as one pack and makes the batch durable through the commit log,
   * then puts it in place (content refs, `main`, served files); resolves once all of that is done.
   */
  write(batch: WriterBatch): Promise<WrittenBatch>;
  /** Flushes what the records in place wrote, and records it in the log (see `RepoWriter.checkpoint`). */
  checkpoint(): Promise<void>;
  /** Checkpoints, then overwrites the commit log with zeros. */
  eraseLog(): Promise<void>;
  /** A last checkpoint; the writer is gone after. */
  close(): Promise<void>;
};

export type WriterRequest = { id: number } & ({ kind: 'write'; batch: WriterBatch } | { kind: 'checkpoint' | 'eraseLog' | 'close' });
export type WriterMessage =
  | { ready: true }
  | { id: number; value: unknown }
  | { id: number; error: SerializedError }
  | { log: 'info' | 'warn' | 'error'; event: string; fields: Record<string, unknown> | undefined };

/** An error as it crosses between threads: what callers look at (a file system's code, a cause) kept. */
export type SerializedError = { name: string; message: string; stack: string | undefined; props: Record<string, unknown>; cause: SerializedError | undefined };

const KEPT_PROPS = ['code', 'errno', 'syscall', 'path', 'dest'];

export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err), stack: undefined, props: {}, cause: undefined };
  const props: Record<string, unknown> = {};
  for (const key of KEPT_PROPS) if (key in err) props[key] = (err as unknown as Record<string, unknown>)[key];
  const cause = err.cause !== undefined && depth < 5 ? serializeError(err.cause, depth + 1) : undefined;
  return { name: err.name, message: err.message, stack: err.stack, props, cause };
}

export function deserializeError(data: SerializedError): Error {
  const err = new Error(data.message, data.cause ? { cause: deserializeError(data.cause) } : undefined);
  err.name = data.name;
  if (data.stack !== undefined) err.stack = data.stack;
  return Object.assign(err, data.props);
}

type Waiting = { resolve: (value: unknown) => void; reject: (err: unknown) => void };

/** Objects' encodings this large are moved to the thread (see `ownedMemory`). */
const MOVED_BYTES = 8 * 1024;

/**
 * The writer of one repository, on a thread of its own (`writer-thread-main.ts` runs a
 * `RepoWriter` there): encoding a batch's pack, writing its files, flushing the commit log and
 * the renames that follow cost the event loop nothing but a message each way, so that the
 * requests arriving meanwhile (reads, Git, the next publishes' bodies) are answered on this
 * thread while the other core writes. Batches are written in the order sent; the thread keeps
 * the process alive only while a request is under way.
 */
export class WriterThread implements BatchWriter {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private failure: Error | null = null;
  private closing: Promise<void> | null = null;
  /** Resolves once the thread has opened the commit log; rejects when it could not. */
  readonly ready: Promise<void>;

  constructor(options: WriterOptions, log: Logger) {
    this.worker = new Worker(new URL('./writer-thread-main.ts', import.meta.url), { workerData: options, stdout: false, stderr: false });
    let started: () => void = () => undefined;
    let refused: (err: unknown) => void = () => undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      refused = reject;
    });
    this.worker.on('message', (message: WriterMessage) => {
      if ('ready' in message) return started();
      if ('log' in message) return log[message.log](message.event, message.fields);
      const waiting = this.waiting.get(message.id);
      if (!waiting) return;
      this.waiting.delete(message.id);
      if (this.waiting.size === 0) this.worker.unref();
      if ('error' in message) waiting.reject(deserializeError(message.error));
      else waiting.resolve(message.value);
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      refused(err);
      for (const waiting of this.waiting.values()) waiting.reject(err);
      this.waiting.clear();
    };
    this.worker.on('error', (err) => fail(new Error(`the ${options.name} index repository's writer thread failed`, { cause: err })));
    this.worker.on('exit', (code) => fail(new Error(`the ${options.name} index repository's writer thread exited (${code})`)));
    // Until the first request, starting the thread is no reason to keep the process alive.
    this.worker.ref();
    void this.ready.then(
      () => {
        if (this.waiting.size === 0) this.worker.unref();
      },
      () => undefined,
    );
  }

  private request<T>(request: { kind: 'write'; batch: WriterBatch } | { kind: 'checkpoint' | 'eraseLog' | 'close' }, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    this.worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.worker.postMessage({ id, ...request }, transfer);
    });
  }

  /**
   * Sends the batch; the objects' encodings that own their memory (all but the small ones, which
   * share Node's pool) are moved to the thread rather than copied: a bundle and its sources are
   * not copied, nor held twice when large. The commit path never reads an object's encoding
   * after sending it.
   */
  async write(batch: WriterBatch): Promise<WrittenBatch> {
    const transfer: ArrayBuffer[] = [];
    for (const { wrapped } of batch.objects) {
      const memory = ownedMemory(wrapped, MOVED_BYTES);
      if (memory && !transfer.includes(memory)) transfer.push(memory);
    }
    const written = await this.request<WrittenBatch>({ kind: 'write', batch }, transfer);
    return { ...written, pack: written.pack && { name: written.pack.name, idx: asBuffer(written.pack.idx) } };
  }

  checkpoint(): Promise<void> {
    return this.request({ kind: 'checkpoint' });
  }

  eraseLog(): Promise<void> {
    return this.request({ kind: 'eraseLog' });
  }

  /** Checkpoints and closes the log on the thread, then ends the thread. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        if (!this.failure) await this.request({ kind: 'close' });
      } finally {
        await this.worker.terminate();
      }
    })();
    return this.closing;
  }
}
