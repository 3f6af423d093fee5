/**
 * Content refs as one state of the repository sees them: the stored refs, with the changes of
 * commits built but not yet stored on top (null: deleted). Copying tens of thousands of refs
 * for each plan would cost more than the plan, so a view shares the stored map and keeps only
 * its own changes.
 */
export class RefView {
  private readonly base: ReadonlyMap<string, string>;
  private readonly changes: Map<string, string | null>;

  constructor(base: ReadonlyMap<string, string>, changes: Map<string, string | null> = new Map()) {
    this.base = base;
    this.changes = changes;
  }

  get(name: string): string | null {
    const changed = this.changes.get(name);
    if (changed !== undefined) return changed;
    return this.base.get(name) ?? null;
  }

  /** A view with `more` changes over this one's. */
  with(more: Iterable<[string, string | null]>): RefView {
    return new RefView(this.base, new Map([...this.changes, ...more]));
  }

  /** Every ref of this view, as a new map. */
  all(): Map<string, string> {
    const refs = new Map(this.base);
    for (const [name, oid] of this.changes) {
      if (oid === null) refs.delete(name);
      else refs.set(name, oid);
    }
    return refs;
  }
}
