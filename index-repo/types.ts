/** A change to one file of the index: new content, or a deletion. Paths are relative, with `/`. */
export type FileChange = { path: string; content: Uint8Array } | { path: string; delete: true };

/** What a caller of `update` wants committed; `changes` empty or absent means no commit. */
export type CommitPlan<T> = { message: string; changes: FileChange[]; result: T } | { result: T };

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
}

export interface IndexRepo {
  /** The bare Git directory. */
  readonly gitDir: string;
  /** The folder mirroring the tree of `main` file by file, or null when it keeps none. */
  readonly servedDir: string | null;
  /** The current commit of `main`. */
  head(): string;
  /** A view of `main` as it is now. */
  snapshot(): Snapshot;
  /**
   * The one way to change the repository. `plan` runs in the serialised queue with a view of
   * the current `main`; what it returns is committed as exactly one commit (none when nothing
   * changes) before the next caller's plan runs. Resolves once the commit is durable. A plan
   * that throws commits nothing and the error is passed on.
   */
  update<T>(plan: (current: Snapshot) => Promise<CommitPlan<T>> | CommitPlan<T>): Promise<{ commit: string | null; result: T }>;
  /** Waits for queued updates, then releases the repository. */
  close(): Promise<void>;
}
