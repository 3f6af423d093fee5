/** Fields of a log line: ids and figures, never content. */
export type LogFields = Record<string, unknown>;

/** Where the repository writes its log lines: one event per line (the gateway's logger is one). */
export type Logger = {
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
};

/** The source of time for commit dates, passed in so that tests can set it. */
export type Clock = { now(): Date };

/** Describes an unexpected error for a log line: its name, message and stack. */
export function describeError(err: unknown): LogFields {
  if (err instanceof Error) return { error: err.name, message: err.message, stack: err.stack };
  return { error: String(err) };
}

/** A change to one file of the index: new content, or a deletion. Paths are relative, with `/`. */
export type FileChange = { path: string; content: Uint8Array } | { path: string; delete: true };

/**
 * A change to a content ref: a ref outside `main`'s history (under `refs/namespaces/`) that keeps
 * content a revoke must be able to delete outright. It is set to a new root commit of `files`
 * (no parent: nothing else keeps it reachable), or to a blob, or deleted.
 */
export type RefChange =
  | { ref: string; commit: { files: Array<{ path: string; content: Uint8Array }>; message: string; time: Date } }
  | { ref: string; blob: Uint8Array }
  /** An object the repository holds already (when converting a repository, say). */
  | { ref: string; object: string }
  | { ref: string; delete: true };

/**
 * What a caller of `update` wants committed: `changes` to `main` (exactly one commit, none when
 * the tree would not change) and `refs` changes to content refs (applied with that commit, or on
 * their own when `main` does not change). Neither: nothing happens.
 */
export type CommitPlan<T> = { message: string; changes: FileChange[]; refs?: RefChange[]; result: T } | { result: T };

export type EntryInfo = { type: 'blob' | 'tree'; oid: string };

/** A read-only view of one commit of `main`. Cheap to take; trees are cached in memory. */
export interface Snapshot {
  /** The commit id this view reads. */
  readonly commit: string;
  entry(path: string): Promise<EntryInfo | null>;
  readFile(path: string): Promise<Buffer | null>;
  readJson<T>(path: string): Promise<T | null>;
  /** The names in a folder, sorted as Git sorts them; null when the folder does not exist. */
  list(path: string): Promise<string[] | null>;
  /** The object a content ref names in this state, or null. */
  ref(name: string): string | null;
  /** Every content ref of this state, with the object it names. */
  refs(): ReadonlyMap<string, string>;
  /**
   * A file as the served folder holds it: the tree of `main`, plus each content ref that the
   * repository's `servedRefs` maps to a path (a blob served at that path).
   */
  servedEntry(path: string): Promise<EntryInfo | null>;
  /**
   * `servedEntry` without waiting, from the trees already in memory: undefined when a tree on
   * the way would have to be read from disk.
   */
  knownServedEntry(path: string): EntryInfo | null | undefined;
  /** The content of a blob by its id. */
  readBlob(oid: string): Promise<Buffer>;
}

/**
 * What changed, for listeners of `onChange`: `main`'s commit now, and how many refs were set and
 * deleted. A change made by `update` also says what its batch (a group commit) took: how many
 * plans it ran, and the seconds from its first plan running to its changes durable and served.
 */
export type RepoChange = {
  kind: 'commit' | 'refs' | 'purge';
  head: string;
  refsSet: number;
  refsDeleted: number;
  batch?: { plans: number; seconds: number };
};

/** Which content refs are also served as files, and where: a mapping both ways. */
export type ServedRefs = {
  /** The served path of a ref's blob, or null when the ref is not served. */
  pathOf(ref: string): string | null;
  /** The ref served at a path, or null. */
  refOf(path: string): string | null;
};

export interface IndexRepo {
  /** The bare Git directory. */
  readonly gitDir: string;
  /** The folder mirroring the tree of `main` file by file, or null when it keeps none. */
  readonly servedDir: string | null;
  /** The current commit of `main`. */
  head(): string;
  /** The commits of `main`, newest first, following first parents: each one's id and message. */
  history(): AsyncIterable<{ commit: string; message: string }>;
  /** A view of `main` and the content refs as they are now: the same object until the next change, so that callers can tell a change by identity. */
  snapshot(): Snapshot;
  /**
   * The one way to change the repository. `plan` runs in the serialised queue with a view of
   * the current `main`; what it returns is committed as exactly one commit (none when nothing
   * changes) before the next caller's plan runs. Resolves once the commit is durable. A plan
   * that throws commits nothing and the error is passed on. When the repository was opened with
   * `timings`, the answer says where the batch's time went (ms by stage, `queued` the wait before
   * it) and how many plans it ran.
   */
  update<T>(plan: (current: Snapshot) => Promise<CommitPlan<T>> | CommitPlan<T>): Promise<{ commit: string | null; result: T; timings?: Record<string, number>; batchSize?: number }>;
  /**
   * Calls `listener` after each change that became durable (a commit of `main`, content refs set
   * or deleted, a purge), outside the commit path: a listener never delays or fails a change.
   * Returns the function that stops the calls.
   */
  onChange(listener: (change: RepoChange) => void): () => void;
  /** Plans waiting for their turn in the queue (not counting the batch being run or stored). */
  queued(): number;
  /**
   * Removes from disk every object no ref reaches any more (after content refs were deleted), so
   * that no pack or loose object still holds them. Resolves once done; calls made while one runs
   * are served by the next run.
   */
  purge(): Promise<void>;
  /** Waits for queued updates, then releases the repository. */
  close(): Promise<void>;
}
