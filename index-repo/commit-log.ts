import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { syncDir } from './durable-fs.ts';

/**
 * The commit log: what makes a commit durable with one flush. Each batch of commits is appended
 * as one record (its pack, index and ref changes) to a preallocated segment file (8 MiB, made
 * at its first use) and flushed
 * (fdatasync of blocks that already exist: no metadata to journal); the repository's own files
 * are then written without flushing. A checkpoint, in the background, flushes those files and
 * records the last sequence number they hold; a start replays every record after it, so a
 * power cut loses nothing that was acknowledged. Segment files are reused in turn; a record
 * too large for a segment gets a file of its own.
 */

const MAGIC = 0x47524c31; // "GRL1"
const HEADER = 20; // magic u32, length u32, crc32 u32, sequence u64
const CHECKPOINT = 'checkpoint';

export type CommitLogOptions = {
  /** Bytes of each preallocated segment; two are kept, each made when first needed. */
  segmentBytes?: number;
};

/** A segment file: opened (and preallocated, when new) at its first use. */
type Segment = { file: string; fd: number | null; size: number; offset: number; sealedAt: number | null };

/** A record read back at start: its sequence number and payload. */
export type LoggedRecord = { sequence: number; payload: Buffer };

function zeros(fd: number, size: number): void {
  const chunk = Buffer.alloc(Math.min(size, 1024 * 1024));
  for (let at = 0; at < size; at += chunk.length) fs.writeSync(fd, chunk, 0, Math.min(chunk.length, size - at), at);
}

/** Reads every whole record of a file (magic, length and checksum right), in file order. */
function readRecords(file: string): LoggedRecord[] {
  const records: LoggedRecord[] = [];
  let data: Buffer;
  try {
    data = fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return records;
    throw err;
  }
  let at = 0;
  while (at + HEADER <= data.length && data.readUInt32BE(at) === MAGIC) {
    const length = data.readUInt32BE(at + 4);
    const crc = data.readUInt32BE(at + 8);
    const sequence = Number(data.readBigUInt64BE(at + 12));
    const end = at + HEADER + length;
    if (end > data.length) break;
    const payload = data.subarray(at + HEADER, end);
    if ((zlib.crc32(payload) >>> 0) !== crc) break;
    records.push({ sequence, payload });
    at = end;
  }
  return records;
}

export class CommitLog {
  readonly dir: string;
  private readonly segmentBytes: number;
  private readonly segments: Segment[];
  private current = 0;
  private nextSequence: number;
  /** The last sequence number whose effects are durable without the log. */
  private checkpointed: number;

  private constructor(dir: string, segments: Segment[], checkpointed: number, segmentBytes: number) {
    this.dir = dir;
    this.segments = segments;
    this.checkpointed = checkpointed;
    this.nextSequence = checkpointed + 1;
    this.segmentBytes = segmentBytes;
  }

  /**
   * Opens the log in `dir` (creating it), and answers the records to replay: every whole record
   * after the last checkpoint, in order, up to the first gap. The caller replays them, then calls
   * `checkpoint` before appending.
   */
  static open(dir: string, options: CommitLogOptions = {}): { log: CommitLog; replay: LoggedRecord[] } {
    const log = CommitLog.resume(dir, options);
    const { checkpointed } = log;
    const found = fs.readdirSync(dir).filter((name) => /^(segment-\d+|large-\d+)$/.test(name));
    const bySequence = new Map<number, LoggedRecord>();
    for (const name of found) for (const record of readRecords(path.join(dir, name))) if (record.sequence > checkpointed) bySequence.set(record.sequence, record);
    const replay: LoggedRecord[] = [];
    for (let sequence = checkpointed + 1; bySequence.has(sequence); sequence++) replay.push(bySequence.get(sequence) as LoggedRecord);
    log.nextSequence = checkpointed + replay.length + 1;
    return { log, replay };
  }

  /**
   * Opens the log in `dir` (creating it) to append after its last checkpoint, without reading its
   * records: for a log whose records were replayed and checkpointed already (by `open`, on the
   * thread that opened the repository).
   */
  static resume(dir: string, options: CommitLogOptions = {}): CommitLog {
    const segmentBytes = options.segmentBytes ?? 8 * 1024 * 1024;
    fs.mkdirSync(dir, { recursive: true });
    let checkpointed = 0;
    try {
      checkpointed = Number(fs.readFileSync(path.join(dir, CHECKPOINT), 'utf8').trim()) || 0;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const segments: Segment[] = [0, 1].map((index) => ({ file: path.join(dir, `segment-${index}`), fd: null, size: segmentBytes, offset: 0, sealedAt: null }));
    return new CommitLog(dir, segments, checkpointed, segmentBytes);
  }

  /** The sequence number the next record gets. */
  get sequence(): number {
    return this.nextSequence;
  }

  /**
   * Appends one record and flushes it; resolves with its sequence number once it is on disk.
   * `makeRoom` is called (and awaited) when the other segment still holds records after the last
   * checkpoint: it must checkpoint them.
   */
  async append(payload: Buffer, makeRoom: () => Promise<void>, sealed: () => void = () => undefined): Promise<number> {
    const sequence = this.nextSequence++;
    const record = Buffer.allocUnsafe(HEADER + payload.length);
    record.writeUInt32BE(MAGIC, 0);
    record.writeUInt32BE(payload.length, 4);
    record.writeUInt32BE(zlib.crc32(payload) >>> 0, 8);
    record.writeBigUInt64BE(BigInt(sequence), 12);
    payload.copy(record, HEADER);
    if (record.length > this.segmentBytes / 2) {
      await this.appendLarge(record, sequence);
      return sequence;
    }
    let segment = this.segments[this.current] as Segment;
    if (segment.offset + record.length > segment.size) {
      segment.sealedAt = sequence - 1;
      const other = this.segments[1 - this.current] as Segment;
      if (other.sealedAt !== null && other.sealedAt > this.checkpointed) await makeRoom();
      other.offset = 0;
      other.sealedAt = null;
      this.current = 1 - this.current;
      segment = other;
      // The sealed segment's records get their checkpoint now, long before the segment is reused.
      sealed();
    }
    const fd = this.open(segment);
    fs.writeSync(fd, record, 0, record.length, segment.offset);
    segment.offset += record.length;
    await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    return sequence;
  }

  /**
   * A segment's file, opened at its first use. A new one is filled with zeros and flushed, with
   * its name: later records overwrite blocks that exist, so that flushing one writes no metadata.
   */
  private open(segment: Segment): number {
    if (segment.fd !== null) return segment.fd;
    const whole = fs.existsSync(segment.file) && fs.statSync(segment.file).size === segment.size;
    const fd = fs.openSync(segment.file, whole ? 'r+' : 'w+', 0o600);
    if (!whole) {
      try {
        zeros(fd, segment.size);
        fs.fsyncSync(fd);
        const dir = fs.openSync(this.dir, 'r');
        fs.fsyncSync(dir);
        fs.closeSync(dir);
      } catch (err) {
        fs.closeSync(fd);
        fs.rmSync(segment.file, { force: true });
        throw err;
      }
    }
    segment.fd = fd;
    return fd;
  }

  /** A record larger than half a segment goes to a file of its own, flushed with its name. */
  private async appendLarge(record: Buffer, sequence: number): Promise<void> {
    const file = path.join(this.dir, `large-${sequence}`);
    const handle = await fs.promises.open(file, 'wx', 0o600);
    try {
      await handle.writeFile(record);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await syncDir(this.dir);
  }

  /** The last sequence number appended. */
  get last(): number {
    return this.nextSequence - 1;
  }

  /**
   * Records that every record up to `sequence` is durable without the log (the caller has
   * flushed the files they wrote): a start replays only what comes after, and the segments
   * and large files holding nothing newer may be reused or removed.
   */
  async checkpoint(sequence: number): Promise<void> {
    if (sequence <= this.checkpointed) return;
    const file = path.join(this.dir, CHECKPOINT);
    const temp = `${file}.tmp`;
    fs.writeFileSync(temp, `${sequence}\n`, { mode: 0o600 });
    const fd = fs.openSync(temp, 'r');
    try {
      await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
    await syncDir(this.dir);
    this.checkpointed = sequence;
    for (const name of fs.readdirSync(this.dir)) {
      const large = /^large-(\d+)$/.exec(name);
      if (large && Number(large[1]) <= sequence) fs.rmSync(path.join(this.dir, name), { force: true });
    }
  }

  /**
   * Overwrites every byte the segments have held with zeros and flushes them, once everything is
   * checkpointed: after it, no file of the log holds any content of an old record (a revoked
   * bundle, say). Appending starts again at the first segment.
   */
  async erase(): Promise<void> {
    if (this.checkpointed < this.last) throw new Error('the commit log still holds records after its checkpoint');
    for (const segment of this.segments) {
      const fd = segment.fd;
      if (fd === null) {
        // Never opened by this process: what an earlier one wrote goes with the file.
        fs.rmSync(segment.file, { force: true });
        continue;
      }
      zeros(fd, segment.size);
      await new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
      segment.offset = 0;
      segment.sealedAt = null;
    }
    this.current = 0;
  }

  close(): void {
    for (const segment of this.segments) if (segment.fd !== null) fs.closeSync(segment.fd);
  }
}
