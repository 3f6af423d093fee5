import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Clock } from './clock.ts';
import type { ErrorCode, Limit } from './errors.ts';
import type { IndexRepo } from '../index-repo/types.ts';
import { ROUTE_CLASSES, routeClass, type RouteClass } from './route-class.ts';

/** What the notifier owes: deliveries not yet settled, and when the oldest of them was recorded. */
export type NotificationBacklog = { owed: number; oldest: Date | null };

/** One push mirror as the mirrors report it: its name (no credentials) and since when a change has waited to reach it (null: none waits). */
export type MirrorBacklog = { mirror: string; backlogSince: Date | null };

/** Every bound whose refusals are counted: the catalog's (see `Limit`) and the connection cap. */
export type Bound = Limit | 'connections';

/**
 * The registry's metrics, in Prometheus' text format. The rest of the code calls these few
 * functions and never prom-client itself. Counting on a request's path costs a counter
 * increment and a histogram observation; every gauge is read when the metrics are scraped.
 */
export interface Metrics {
  /**
   * A request answered with `status` (null: its client went away first), `started` being a
   * `performance.now()`, `code` the catalog code of an error answer. A publish or a revoke is
   * also counted by outcome.
   */
  request(method: string, path: string, status: number | null, started: number, code: ErrorCode | null): void;
  /** A request or connection refused by one of the registry's bounds. */
  refused(bound: Bound): void;
  /** A login mail handed to the mail server (or written to the outbox), or one that could not be. */
  loginMail(result: 'sent' | 'failed'): void;
  /** Follows an index repository: its commits' latency and batch sizes, its queue. */
  watchRepo(name: string, repo: Pick<IndexRepo, 'onChange' | 'queued'>): void;
  /** Where the notification backlog is read at each scrape. */
  watchNotifications(backlog: () => NotificationBacklog): void;
  /** Where the Git processes serving clones are counted at each scrape. */
  watchGit(counts: () => { running: number; waiting: number }): void;
  /** Where push mirrors report their backlog, read at each scrape. */
  watchMirrors(status: () => Iterable<MirrorBacklog>): void;
  /** The exposition's Content-Type. */
  readonly contentType: string;
  /** Every metric now, in Prometheus' text format. */
  exposition(): Promise<string>;
}

export type MetricsOptions = {
  clock: Clock;
  /** Whether to collect prom-client's process metrics too (memory, file descriptors, event loop lag, GC): they watch the whole process from then on. */
  process: boolean;
};

const PREFIX = 'gren_registry_';

/** Seconds: from an index file answered from memory (a tenth of a millisecond) to a clone of a large index (minutes). */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const COMMIT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** A batch holds at most 32 plans (index-repo's MAX_BATCH). */
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32];

/** Which counter a bound's refusals go to: a client past its own limit (429), or the registry at its capacity (503, or a connection closed). */
const BOUND_KINDS: Record<Bound, 'rate_limit' | 'capacity'> = {
  login_mail_address: 'rate_limit',
  login_mail_client: 'rate_limit',
  login_fetch_client: 'rate_limit',
  publish_user: 'rate_limit',
  publish_identity: 'rate_limit',
  upload_memory_user: 'rate_limit',
  upload_memory: 'capacity',
  git_queue: 'capacity',
  connections: 'capacity',
};

const ROUTE_INDEX = Object.fromEntries(ROUTE_CLASSES.map((route, at) => [route, at])) as Record<RouteClass, number>;

export function createMetrics(options: MetricsOptions): Metrics {
  const { clock } = options;
  const registry = new Registry();
  const registers = [registry];
  if (options.process) collectDefaultMetrics({ register: registry });
  const requests = requestMetrics(registry);
  const outcomes = outcomeMetrics(registry);
  const refusals = {
    rate_limit: new Counter({ name: `${PREFIX}rate_limit_refusals_total`, help: 'Requests refused 429 because a client went past one of its limits, by limit.', labelNames: ['limit'], registers }),
    capacity: new Counter({ name: `${PREFIX}capacity_refusals_total`, help: 'Requests (or connections) refused because the registry was at one of its capacity bounds, by bound.', labelNames: ['limit'], registers }),
  };
  const mails = new Counter({ name: `${PREFIX}login_mails_total`, help: 'Login mails sent (or written to the outbox), and those that could not be.', labelNames: ['result'], registers });
  const repos = repoMetrics(registry);
  const backlogs = backlogMetrics(registry, clock);

  return {
    request(method, path, status, started, code) {
      const route = routeClass(method, path);
      requests.count(route, status);
      if (status === null) return;
      requests.observe(route, (performance.now() - started) / 1000);
      if (route === 'publish' || route === 'revoke') outcomes.count(route, status, code);
    },
    refused(bound) {
      refusals[BOUND_KINDS[bound]].labels(bound).inc();
    },
    loginMail(result) {
      mails.labels(result).inc();
    },
    watchRepo: repos.watch,
    watchNotifications(backlog) {
      backlogs.notifications = backlog;
    },
    watchGit(counts) {
      backlogs.git = counts;
    },
    watchMirrors(status) {
      backlogs.mirrors = status;
    },
    contentType: registry.contentType,
    exposition: () => registry.metrics(),
  };
}

/** Requests by route class and status, and their latency by route class; children made once per series, so that counting allocates nothing of ours. */
function requestMetrics(registry: Registry) {
  const registers = [registry];
  const total = new Counter({
    name: `${PREFIX}http_requests_total`,
    help: 'HTTP requests answered, by route class and status (code "aborted": the client went away before the answer).',
    labelNames: ['route', 'code'],
    registers,
  });
  const seconds = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`,
    help: 'Seconds from a request reaching the registry to its answer, by route class (requests whose client went away are not observed).',
    labelNames: ['route'],
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const counters = new Map<number, Counter.Internal>();
  const timers = ROUTE_CLASSES.map((route) => seconds.labels(route));
  return {
    count(route: RouteClass, status: number | null) {
      const key = ROUTE_INDEX[route] * 1000 + (status ?? 0);
      let child = counters.get(key);
      if (child === undefined) {
        child = total.labels(route, status === null ? 'aborted' : String(status));
        counters.set(key, child);
      }
      child.inc();
    },
    observe(route: RouteClass, value: number) {
      (timers[ROUTE_INDEX[route]] as Histogram.Internal<'route'>).observe(value);
    },
  };
}

/** Publishes and revokes by outcome: `ok`, `refused` (a 4xx, with its catalog code) or `failed` (a 5xx, with its code). */
function outcomeMetrics(registry: Registry) {
  const registers = [registry];
  const labelNames = ['outcome', 'code'] as const;
  const counters = {
    publish: new Counter({ name: `${PREFIX}publishes_total`, help: 'Publish requests answered, by outcome (ok, refused, failed) and the error code of the refused and failed.', labelNames, registers }),
    revoke: new Counter({ name: `${PREFIX}revokes_total`, help: 'Revoke requests answered, by outcome (ok, refused, failed) and the error code of the refused and failed.', labelNames, registers }),
  };
  return {
    count(route: 'publish' | 'revoke', status: number, code: ErrorCode | null) {
      const counter = counters[route];
      const outcome = status < 400 ? 'ok' : status < 500 ? 'refused' : 'failed';
      // Every error answer through the app has its catalog code (the error handler's choice).
      counter.inc(outcome === 'ok' || code === null ? { outcome } : { outcome, code });
    },
  };
}

/** Each watched repository's commits (latency and plans per batch, told by `onChange`) and its queue, read at scrape. */
function repoMetrics(registry: Registry) {
  const registers = [registry];
  const queues = new Map<string, () => number>();
  const seconds = new Histogram({
    name: `${PREFIX}commit_duration_seconds`,
    help: 'Seconds a batch of commits (a group commit) took, from its first plan running to its changes durable and served, by repository.',
    labelNames: ['repo'],
    buckets: COMMIT_BUCKETS,
    registers,
  });
  const plans = new Histogram({
    name: `${PREFIX}commit_batch_plans`,
    help: 'Plans (publishes, revokes) run in one batch of commits, by repository.',
    labelNames: ['repo'],
    buckets: BATCH_BUCKETS,
    registers,
  });
  new Gauge({
    name: `${PREFIX}commit_queue_plans`,
    help: 'Plans waiting for their turn in the commit queue, by repository.',
    labelNames: ['repo'],
    registers,
    collect() {
      for (const [repo, queued] of queues) this.labels(repo).set(queued());
    },
  });
  return {
    watch(name: string, repo: Pick<IndexRepo, 'onChange' | 'queued'>) {
      const timer = seconds.labels(name);
      const sizes = plans.labels(name);
      queues.set(name, () => repo.queued());
      repo.onChange((change) => {
        if (!change.batch) return;
        timer.observe(change.batch.seconds);
        sizes.observe(change.batch.plans);
      });
    },
  };
}

/** The gauges read at each scrape from the sources registered (a source not registered reports nothing). */
function backlogMetrics(registry: Registry, clock: Clock) {
  const registers = [registry];
  const sources: {
    notifications: (() => NotificationBacklog) | null;
    git: (() => { running: number; waiting: number }) | null;
    mirrors: (() => Iterable<MirrorBacklog>) | null;
  } = { notifications: null, git: null, mirrors: null };
  const ageOf = (since: Date | null) => (since === null ? 0 : Math.max(0, (clock.now().getTime() - since.getTime()) / 1000));

  // A gauge whose collect sets another is registered first: a scrape reads them in that order.
  new Gauge({
    name: `${PREFIX}notifications_owed`,
    help: 'Notification deliveries (documentation site, webhooks) owed: recorded and not yet settled by their target.',
    registers,
    collect() {
      if (!sources.notifications) return;
      const { owed, oldest } = sources.notifications();
      this.set(owed);
      owedAge.set(ageOf(oldest));
    },
  });
  const owedAge = new Gauge({ name: `${PREFIX}notifications_oldest_owed_age_seconds`, help: 'Age of the oldest notification delivery owed (0 when none is).', registers });
  new Gauge({
    name: `${PREFIX}git_processes`,
    help: 'Connections served by Git (one process each at a time): running, and requests queued for a place.',
    labelNames: ['state'],
    registers,
    collect() {
      if (!sources.git) return;
      const { running, waiting } = sources.git();
      this.labels('running').set(running);
      this.labels('queued').set(waiting);
    },
  });
  new Gauge({
    name: `${PREFIX}mirrors_behind`,
    help: 'Push mirrors that a change of the index has yet to reach.',
    registers,
    collect() {
      if (!sources.mirrors) return;
      unpushedAge.reset();
      let behind = 0;
      for (const { mirror, backlogSince } of sources.mirrors()) {
        if (backlogSince !== null) behind++;
        unpushedAge.labels(mirror).set(ageOf(backlogSince));
      }
      this.set(behind);
    },
  });
  const unpushedAge = new Gauge({
    name: `${PREFIX}mirror_unpushed_age_seconds`,
    help: 'Age of the oldest change not yet pushed to a push mirror, by mirror (0 when it is in step).',
    labelNames: ['mirror'],
    registers,
  });
  return sources;
}
