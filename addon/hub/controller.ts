// The hub controller: watches every cluster's report (ClusterUpgrade), the ManagedClusters and
// TALM's ClusterGroupUpgrades and ImageBasedGroupUpgrades into the fleet model; applies the
// auto-import rule per cluster through a coalescing queue (only the leader writes); counts
// transitions, failures and durations; and tells subscribers (the event stream) what changed.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import {
  CoalescingQueue,
  sleep,
  watchCollection,
  type KubeApi,
  type WatchEvent,
  type WatchOptions,
} from "../shared/kube.js";
import { LeaderElector } from "../shared/lease.js";
import { toLogger, type Logger, type LogSink } from "../shared/log.js";
import type { ClusterUpgrade } from "../shared/report.js";
import { REPORT_GROUP, REPORT_NAME, REPORT_PLURAL, REPORT_VERSION } from "../shared/report.js";
import {
  MANAGED_CLUSTERS,
  applyAutoImport,
  isConflict,
  neededAction,
  recordChange,
} from "./autoimport.js";
import {
  Fleet,
  fleetSummary,
  toManagedCluster,
  type ClusterSummary,
  type FleetSummary,
  type ManagedClusterObject,
} from "./fleet.js";
import { GROUP_LABEL, toUpgradeObject } from "./groups.js";
import { HubMetrics } from "./hub-metrics.js";

export const REPORTS = `/apis/${REPORT_GROUP}/${REPORT_VERSION}/${REPORT_PLURAL}`;
export const CGUS = "/apis/ran.openshift.io/v1alpha1/clustergroupupgrades";
export const IBGUS = "/apis/lcm.openshift.io/v1alpha1/imagebasedgroupupgrades";
export const LEASE_NAME = "ibu-gitops-hub";

export interface HubControllerOptions {
  readonly api: KubeApi;
  /** The hub's namespace: where its Lease lives. */
  readonly namespace: string;
  /** This replica's name in the Lease and in Events. @default hostname + random suffix */
  readonly identity?: string;
  /** Campaign for the Lease; without it this replica always acts as the leader. */
  readonly leaderElect?: boolean;
  readonly lease?: {
    readonly durationSeconds?: number;
    readonly renewDeadlineSeconds?: number;
    readonly retryPeriodSeconds?: number;
  };
  /** Only ManagedClusters matching this label selector (kubectl syntax) are in the fleet. */
  readonly clusterSelector?: string;
  /** In progress or pending with no progress for this long counts as stuck. @default 30 min */
  readonly stuckAfterMs?: number;
  /** Annotation writes in flight at most. @default 32 */
  readonly concurrency?: number;
  /** Sweep every cluster through the rule this often. @default 60 s */
  readonly resyncSeconds?: number;
  readonly watch?: Omit<WatchOptions, "log">;
  /** Annotation changes and leadership at info, retried failures at warn. @default silent */
  readonly log?: LogSink;
}

interface RawObject {
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export type FleetChange =
  | { readonly type: "cluster"; readonly cluster: ClusterSummary }
  | { readonly type: "deleted"; readonly name: string };

/** A counting semaphore: at most `n` tasks at once. */
class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly n: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.n) await new Promise<void>(r => this.waiting.push(r));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

export class HubController {
  readonly fleet: Fleet;
  readonly metrics: HubMetrics;
  readonly identity: string;
  readonly stuckAfterMs: number;
  private readonly log: Logger;
  private readonly queue: CoalescingQueue;
  private readonly sem: Semaphore;
  private readonly elector: LeaderElector | undefined;
  private readonly listeners = new Set<(c: FleetChange) => void>();
  private readonly lastStageState = new Map<string, string>();
  private readonly lastSignature = new Map<string, string>();
  private readonly synced = new Set<string>();
  private signal: AbortSignal | undefined;
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly opts: HubControllerOptions) {
    this.log = toLogger(opts.log);
    this.identity = opts.identity ?? `${hostname()}_${randomBytes(4).toString("hex")}`;
    this.stuckAfterMs = opts.stuckAfterMs ?? 30 * 60_000;
    this.fleet = new Fleet(opts.clusterSelector !== undefined && opts.clusterSelector !== "");
    this.metrics = new HubMetrics({
      summaries: () => this.fleet.summaries(Date.now(), this.stuckAfterMs),
      isLeader: () => this.isLeader,
    });
    this.queue = new CoalescingQueue((key, err) =>
      this.log.error({ cluster: key, err }, `auto-import ${key} failed`),
    );
    this.sem = new Semaphore(opts.concurrency ?? 32);
    if (opts.leaderElect) {
      this.elector = new LeaderElector({
        api: opts.api,
        namespace: opts.namespace,
        name: LEASE_NAME,
        identity: this.identity,
        leaseDurationSeconds: opts.lease?.durationSeconds ?? 15,
        renewDeadlineSeconds: opts.lease?.renewDeadlineSeconds ?? 10,
        retryPeriodSeconds: opts.lease?.retryPeriodSeconds ?? 2,
        log: this.log,
        onStartedLeading: () => this.sweep(),
      });
    }
  }

  get isLeader(): boolean {
    if (!this.signal || this.signal.aborted) return false;
    return this.elector ? this.elector.isLeader : true;
  }

  /** Reports and ManagedClusters have been listed at least once. */
  get ready(): boolean {
    return this.synced.has("reports") && this.synced.has("managedclusters");
  }

  /** Runs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    const w = { ...(this.opts.watch ?? {}), log: this.log };
    const sel = this.opts.clusterSelector;
    const mcPath = sel
      ? `${MANAGED_CLUSTERS}?labelSelector=${encodeURIComponent(sel)}`
      : MANAGED_CLUSTERS;
    const guard =
      <T>(what: string, fn: (e: WatchEvent<T>) => void) =>
      (e: WatchEvent<T>): void => {
        try {
          fn(e);
        } catch (err) {
          this.log.error({ err }, `${what}: handling a watch event failed`);
        }
      };
    const tasks = [
      watchCollection<ClusterUpgrade>(
        this.opts.api,
        `${REPORTS}?fieldSelector=${encodeURIComponent(`metadata.name=${REPORT_NAME}`)}`,
        guard("reports", e => this.onReport(e)),
        signal,
        w,
      ),
      watchCollection<ManagedClusterObject & { metadata?: { resourceVersion?: string } }>(
        this.opts.api,
        mcPath,
        guard("managedclusters", e => this.onManagedCluster(e)),
        signal,
        w,
      ),
      watchCollection<RawObject>(
        this.opts.api,
        CGUS,
        guard("clustergroupupgrades", e => this.onUpgrade("ClusterGroupUpgrade", e)),
        signal,
        w,
      ),
      watchCollection<RawObject>(
        this.opts.api,
        `${IBGUS}?labelSelector=${encodeURIComponent(GROUP_LABEL)}`,
        guard("imagebasedgroupupgrades", e => this.onUpgrade("ImageBasedGroupUpgrade", e)),
        signal,
        w,
      ),
      this.elector?.run(signal),
      (async () => {
        while (!signal.aborted) {
          await sleep((this.opts.resyncSeconds ?? 60) * 1000, signal);
          this.sweep();
        }
      })(),
    ];
    await Promise.all(tasks.filter((t): t is Promise<void> => t !== undefined));
    await Promise.allSettled([...this.pending]);
  }

  /** Resolves when no annotation work is queued or running (tests, benchmarks). */
  async settled(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  subscribe(listener: (c: FleetChange) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  summary(now = Date.now()): FleetSummary {
    return fleetSummary(this.fleet.summaries(now, this.stuckAfterMs));
  }

  // ---- watch events ----

  private onReport(e: WatchEvent<ClusterUpgrade>): void {
    const put = (o: ClusterUpgrade): void => {
      const name = o.metadata.namespace;
      const prev = this.fleet.reports.get(name);
      if (prev && prev.rv && prev.rv === o.metadata.resourceVersion) return;
      if (!o.report) {
        if (prev) this.removeReport(name);
        return;
      }
      this.fleet.setReport(name, o.report, o.metadata.resourceVersion);
      if (!prev) this.fleet.namesChanged();
      this.changed(name);
    };
    if (e.type === "RELISTED") {
      const seen = new Set(e.objects.map(o => o.metadata.namespace));
      for (const name of [...this.fleet.reports.keys()])
        if (!seen.has(name)) this.removeReport(name);
      for (const o of e.objects) put(o);
      this.synced.add("reports");
    } else if (e.type === "DELETED") this.removeReport(e.object.metadata.namespace);
    else put(e.object);
  }

  private removeReport(name: string): void {
    if (!this.fleet.reports.delete(name)) return;
    this.fleet.lastHistory.delete(name);
    this.fleet.namesChanged();
    this.metrics.forget(name);
    this.changed(name);
  }

  private onManagedCluster(e: WatchEvent<ManagedClusterObject>): void {
    const put = (o: ManagedClusterObject): void => {
      const mc = toManagedCluster(o);
      const prev = this.fleet.managed.get(mc.name);
      if (prev && prev.resourceVersion === mc.resourceVersion) return;
      this.fleet.managed.set(mc.name, mc);
      if (!prev) this.fleet.namesChanged();
      if (!prev || JSON.stringify(prev.labels) !== JSON.stringify(mc.labels))
        this.fleet.groupsChanged(mc.name);
      this.changed(mc.name);
    };
    const remove = (name: string): void => {
      if (!this.fleet.managed.delete(name)) return;
      this.fleet.namesChanged();
      this.fleet.groupsChanged(name);
      this.changed(name);
    };
    if (e.type === "RELISTED") {
      const seen = new Set(e.objects.map(o => o.metadata?.name ?? ""));
      for (const name of [...this.fleet.managed.keys()]) if (!seen.has(name)) remove(name);
      for (const o of e.objects) put(o);
      this.synced.add("managedclusters");
    } else if (e.type === "DELETED") remove(e.object.metadata?.name ?? "");
    else put(e.object);
  }

  private onUpgrade(
    kind: "ClusterGroupUpgrade" | "ImageBasedGroupUpgrade",
    e: WatchEvent<RawObject>,
  ): void {
    const key = (o: RawObject): string =>
      `${kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
    const before = JSON.stringify(
      [...this.fleet.upgrades.entries()].filter(([k]) => k.startsWith(kind)),
      replacer,
    );
    if (e.type === "RELISTED") {
      for (const k of [...this.fleet.upgrades.keys()])
        if (k.startsWith(`${kind}/`)) this.fleet.upgrades.delete(k);
      for (const o of e.objects) this.putUpgrade(key(o), { ...o, kind });
    } else if (e.type === "DELETED") this.fleet.upgrades.delete(key(e.object));
    else this.putUpgrade(key(e.object), { ...e.object, kind });
    const after = JSON.stringify(
      [...this.fleet.upgrades.entries()].filter(([k]) => k.startsWith(kind)),
      replacer,
    );
    if (before === after) return;
    this.fleet.groupsChanged();
    for (const name of this.fleet.names()) this.changed(name, false);
  }

  private putUpgrade(key: string, o: unknown): void {
    const u = toUpgradeObject(o);
    if (u) this.fleet.upgrades.set(key, u);
    else this.fleet.upgrades.delete(key);
  }

  // ---- per-cluster bookkeeping ----

  /** Counts transitions, observes durations, tells subscribers and schedules the rule. */
  private changed(name: string, schedule = true): void {
    const now = Date.now();
    const record = this.fleet.record(name);
    if (!record) {
      this.lastStageState.delete(name);
      if (this.lastSignature.delete(name)) this.emit({ type: "deleted", name });
      return;
    }
    const rep = record.report;
    const stageState = `${rep?.stage ?? "Unknown"}/${rep?.state ?? "NoReport"}`;
    const prev = this.lastStageState.get(name);
    if (rep && prev !== undefined && prev !== stageState && !prev.endsWith("/NoReport")) {
      this.metrics.transitions.inc({ stage: rep.stage, state: rep.state });
      if (rep.state === "Failed") this.metrics.failures.inc({ stage: rep.stage });
      this.fleet.stateSince.set(name, now);
    }
    this.lastStageState.set(name, stageState);
    if (rep) this.metrics.observeHistory(name, rep);
    const summary = this.fleet.summary(name, now, this.stuckAfterMs);
    if (summary) {
      // what changes with the clock alone is left out
      const sig = JSON.stringify({ ...summary, reportAgeSeconds: undefined, stuck: undefined });
      if (this.lastSignature.get(name) !== sig) {
        this.lastSignature.set(name, sig);
        this.emit({ type: "cluster", cluster: summary });
      }
    }
    if (schedule) this.schedule(name);
  }

  private emit(c: FleetChange): void {
    for (const l of this.listeners) {
      try {
        l(c);
      } catch (err) {
        this.log.warn({ err }, "listener failed");
      }
    }
  }

  /** Puts every cluster that needs an annotation change on the queue. */
  sweep(): void {
    for (const name of this.fleet.names()) this.schedule(name);
  }

  private schedule(name: string): void {
    if (!this.isLeader || this.signal?.aborted) return;
    const r = this.fleet.record(name);
    if (!r || !neededAction(r.report, r.managed)) return;
    const p = this.queue.enqueue(name, () => this.reconcile(name));
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** The rule for one cluster, retried with backoff until it holds or leadership ends. */
  private async reconcile(name: string): Promise<void> {
    let backoff = 500;
    const api = this.opts.api;
    for (;;) {
      const signal = this.signal;
      if (!signal || signal.aborted || !this.isLeader) return;
      const r = this.fleet.record(name);
      if (!r || !neededAction(r.report, r.managed)) return;
      const ctx = { api, instance: this.identity, log: this.log };
      try {
        const res = await this.sem.run(() => applyAutoImport(ctx, name, r.report, r.managed));
        if (res && this.fleet.managed.has(name)) {
          this.fleet.managed.set(name, res.managed);
          this.changed(name, false);
        }
        if (res && "action" in res) {
          this.metrics.autoImportActions.inc({ action: res.action });
          await recordChange(ctx, res);
        }
        return;
      } catch (err) {
        this.metrics.autoImportErrors.inc();
        if (isConflict(err)) {
          await sleep(100, signal);
          continue;
        }
        this.log.warn(
          { cluster: name, err, backoffMs: backoff },
          `auto-import ${name} failed; retrying in ${backoff} ms`,
        );
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, 30_000);
      }
    }
  }
}

function replacer(_k: string, v: unknown): unknown {
  return v instanceof Map ? [...v.entries()] : v;
}
