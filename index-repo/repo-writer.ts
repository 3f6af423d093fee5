import type { CommitLog } from './commit-log.ts';
import { encodeRecord, decodeRecord, type RepoRecord } from './log-record.ts';
import type { ObjectStore } from './object-store.ts';
import { flushPaths, prepareRecord, type PackPlacer } from './repo-files.ts';
import type { ServedFolder } from './served-folder.ts';
import type { StageTimer } from './stage-timer.ts';
import { describeError, type FileChange, type Logger } from './types.ts';

/** A checkpoint follows this long after the last write, or after this many records. */
const CHECKPOINT_IDLE_MS = 1000;
const CHECKPOINT_RECORDS = 256;

export type RepoWriterParts = { gitDir: string; name: string; store: PackPlacer; served: ServedFolder | null; log: Logger; commitLog: CommitLog };

/**
 * Writes batches of commits to the repository's files through the commit log: everything that
 * takes disk space is written first (the pack in place, ref values to lock files, the served
 * files to the staging folder), then the record is appended to the log and flushed (one flush:
 * the batch is durable), then renames put the refs and served files in place. The files written
 * are flushed later by checkpoints, in the background; a start replays the log after the last
 * one (`replayLog`). A failure before the flush leaves nothing behind; a failure to put a
 * durable record in place leaves the repository refusing writes until a restart replays it.
 */
export class RepoWriter {
  private readonly parts: RepoWriterParts;
  /** Files and folders written since the last checkpoint began. */
  private touched = new Set<string>();
  /** The last sequence number whose record is in place. */
  private applied: number;
  private checkpoints: Promise<void> = Promise.resolve();
  private idle: NodeJS.Timeout | null = null;
  private sinceCheckpoint = 0;
  private broken: Error | null = null;

  constructor(parts: RepoWriterParts) {
    this.parts = parts;
    this.applied = parts.commitLog.last;
  }

  /**
   * Makes `record` durable and puts it in place, with the served folder's `served` changes staged;
   * answers the function that puts those in place (`head`: the commit the folder then equals), to
   * call once the caller's state follows the record.
   */
  async write(record: RepoRecord, served: FileChange[], timer: StageTimer | null): Promise<{ publishServed(head: string): void }> {
    if (this.broken) throw this.broken;
    const { gitDir, store, commitLog } = this.parts;
    const payload = encodeRecord(record);
    timer?.mark('record');
    const staged = this.parts.served?.stage(served) ?? null;
    timer?.mark('served_staged');
    let prepared: ReturnType<typeof prepareRecord>;
    try {
      prepared = prepareRecord(gitDir, store, record, this.touched);
    } catch (err) {
      staged?.discard();
      throw err;
    }
    timer?.mark('files_written');
    let sequence: number;
    try {
      sequence = await commitLog.append(payload, () => this.checkpoint(), () => void this.checkpoint().catch(() => undefined));
    } catch (err) {
      prepared.discard();
      staged?.discard();
      throw err;
    }
    timer?.mark('log_flushed');
    try {
      await prepared.install(this.touched);
      this.applied = sequence;
    } catch (err) {
      this.broken = new Error(`the ${this.parts.name} index repository could not put a committed change in place; restart the registry, which finishes it from the commit log`, { cause: err });
      this.parts.log.error('index_install_failed', { repo: this.parts.name, sequence, ...describeError(err) });
      throw this.broken;
    }
    timer?.mark('installed');
    this.afterWrite();
    return { publishServed: (head) => staged?.publish(head) };
  }

  private afterWrite(): void {
    if (++this.sinceCheckpoint >= CHECKPOINT_RECORDS) {
      void this.checkpoint().catch(() => undefined);
      return;
    }
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => void this.checkpoint().catch(() => undefined), CHECKPOINT_IDLE_MS);
    this.idle.unref();
  }

  /**
   * Flushes every file written by the records in place now, then records in the log that a start
   * need not replay them. One at a time; a failure is logged, and the files stay owed to the next.
   */
  checkpoint(): Promise<void> {
    const run = this.checkpoints.then(async () => {
      if (this.idle) clearTimeout(this.idle);
      this.idle = null;
      this.sinceCheckpoint = 0;
      const upTo = this.applied;
      const files = this.touched;
      this.touched = new Set();
      try {
        await flushPaths(files);
        await this.parts.commitLog.checkpoint(upTo);
      } catch (err) {
        for (const file of files) this.touched.add(file);
        this.parts.log.error('index_checkpoint_failed', { repo: this.parts.name, ...describeError(err) });
        throw err;
      }
    });
    this.checkpoints = run.catch(() => undefined);
    return run;
  }

  /** Checkpoints, then overwrites the log with zeros: no file of the log keeps any content of a past record. */
  async eraseLog(): Promise<void> {
    await this.checkpoint();
    await this.parts.commitLog.erase();
  }

  /** A last checkpoint, then the log is closed. */
  async close(): Promise<void> {
    if (this.idle) clearTimeout(this.idle);
    await this.checkpoint().catch(() => undefined);
    this.parts.commitLog.close();
  }
}

/**
 * Replays the records a start found in the commit log after its last checkpoint (a process killed,
 * or a power cut, since): each record's pack (kept when whole on disk), refs and `main` are put in
 * place again in order, everything is flushed, and the log checkpointed. Returns the served paths
 * those records changed, for the served folder to repair.
 */
export async function replayLog(gitDir: string, store: ObjectStore, commitLog: CommitLog, records: Array<{ sequence: number; payload: Buffer }>): Promise<string[]> {
  const touched = new Set<string>();
  const served: string[] = [];
  for (const { payload } of records) {
    const record = decodeRecord(payload);
    await prepareRecord(gitDir, store, record, touched, true).install(touched);
    served.push(...record.served);
  }
  await flushPaths(touched);
  await commitLog.checkpoint(commitLog.last);
  return served;
}
