type Node<K, V> = { key: K; value: V; weight: number; older: Node<K, V> | null; newer: Node<K, V> | null };

/**
 * A map that forgets its least recently used entries once their total weight passes a limit.
 * Entries are kept in a list from the least to the most recently used, so that each use and
 * each eviction costs the same whatever the size. (Evicting by iterating a `Map` from its start
 * slows down as deletions pile up in it: about 55 µs an eviction at 100,000 entries.)
 */
export class Lru<K, V> {
  private readonly entries = new Map<K, Node<K, V>>();
  private oldest: Node<K, V> | null = null;
  private newest: Node<K, V> | null = null;
  private total = 0;
  private readonly limit: number;
  private readonly weigh: (value: V) => number;

  constructor(limit: number, weigh: (value: V) => number = () => 1) {
    this.limit = limit;
    this.weigh = weigh;
  }

  private unlink(node: Node<K, V>): void {
    if (node.older) node.older.newer = node.newer;
    else this.oldest = node.newer;
    if (node.newer) node.newer.older = node.older;
    else this.newest = node.older;
    node.older = null;
    node.newer = null;
  }

  private append(node: Node<K, V>): void {
    node.older = this.newest;
    if (this.newest) this.newest.newer = node;
    else this.oldest = node;
    this.newest = node;
  }

  get(key: K): V | undefined {
    const node = this.entries.get(key);
    if (!node) return undefined;
    if (node !== this.newest) {
      this.unlink(node);
      this.append(node);
    }
    return node.value;
  }

  set(key: K, value: V): void {
    const weight = this.weigh(value);
    if (weight > this.limit) return;
    const old = this.entries.get(key);
    if (old) {
      this.total -= old.weight;
      this.unlink(old);
      this.entries.delete(key);
    }
    const node: Node<K, V> = { key, value, weight, older: null, newer: null };
    this.entries.set(key, node);
    this.append(node);
    this.total += weight;
    while (this.total > this.limit && this.oldest) {
      const evicted = this.oldest;
      this.unlink(evicted);
      this.entries.delete(evicted.key);
      this.total -= evicted.weight;
    }
  }

  get weight(): number {
    return this.total;
  }
}
