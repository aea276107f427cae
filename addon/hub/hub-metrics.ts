// The hub's Prometheus metrics on prom-client, one registry per HubMetrics (never the process's
// global one). Fleet gauges are collected from the model at scrape time; counters and
// histograms are fed by the controller as it observes changes. Names: api/metrics.ts.
import { Counter, Gauge, Histogram, Registry, type LabelValues } from "prom-client";
import { HUB_METRICS, type MetricSpec } from "../../api/metrics.js";
import type { StageHistory } from "../agent/ibu-types.js";
import type { Report } from "../shared/report.js";
import type { ClusterSummary } from "./fleet.js";

export interface MetricsSource {
  summaries(): Iterable<ClusterSummary>;
  isLeader(): boolean;
}

const STAGE_BUCKETS = [60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 28800];
const PHASE_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200];

/** prom-client's options for one metric of the contract, registered in `registry` only. */
const config = <L extends string>(
  m: MetricSpec & { readonly labels: readonly L[] },
  registry: Registry,
): { name: string; help: string; labelNames: readonly L[]; registers: Registry[] } => ({
  name: m.name,
  help: m.help,
  labelNames: m.labels,
  registers: [registry],
});

/** A gauge whose series are recomputed from `values` at every scrape. */
function collectedGauge<L extends string>(
  m: MetricSpec & { readonly labels: readonly L[] },
  registry: Registry,
  values: () => Iterable<readonly [LabelValues<L>, number]>,
): Gauge<L> {
  return new Gauge<L>({
    ...config(m, registry),
    collect(this: Gauge<L>): void {
      this.reset();
      for (const [labels, value] of values()) this.set(labels, value);
    },
  });
}

/** Clusters counted by the label set `labels` gives each. */
function countBy<L extends string>(
  source: MetricsSource,
  labels: (c: ClusterSummary) => LabelValues<L>,
): () => Iterable<readonly [LabelValues<L>, number]> {
  return () => {
    const counts = new Map<string, [LabelValues<L>, number]>();
    for (const c of source.summaries()) {
      const l = labels(c);
      const key = JSON.stringify(l);
      const e = counts.get(key);
      if (e) e[1]++;
      else counts.set(key, [l, 1]);
    }
    return counts.values();
  };
}

/** One unlabelled value computed from the clusters. */
const single = (f: () => number) => (): Iterable<readonly [LabelValues<never>, number]> => [
  [{}, f()],
];

export class HubMetrics {
  readonly registry = new Registry();
  readonly transitions: Counter<"stage" | "state">;
  readonly failures: Counter<"stage">;
  readonly stageDuration: Histogram<"stage">;
  readonly phaseDuration: Histogram<"stage" | "phase">;
  readonly autoImportActions: Counter<"action">;
  readonly autoImportErrors: Counter;
  /** cluster → history entries already observed (stage and phase durations count once). */
  private readonly observed = new Map<string, Set<string>>();

  constructor(
    source: MetricsSource,
    private readonly startedAt = Date.now(),
  ) {
    const r = this.registry;
    const M = HUB_METRICS;
    const clusters = (): Iterable<ClusterSummary> => source.summaries();
    collectedGauge(
      M.clusters,
      r,
      countBy(source, c => ({ stage: c.stage, state: c.state })),
    );
    collectedGauge(
      M.clustersByGroup,
      r,
      countBy(source, c => ({ group: c.group ?? "", stage: c.stage, state: c.state })),
    );
    this.transitions = new Counter(config(M.transitions, r));
    this.failures = new Counter(config(M.failures, r));
    this.stageDuration = new Histogram({ ...config(M.stageDuration, r), buckets: STAGE_BUCKETS });
    this.phaseDuration = new Histogram({ ...config(M.phaseDuration, r), buckets: PHASE_BUCKETS });
    this.autoImportActions = new Counter(config(M.autoImportActions, r));
    this.autoImportErrors = new Counter(config(M.autoImportErrors, r));
    collectedGauge(
      M.reportAge,
      r,
      single(() => {
        let max = 0;
        for (const c of clusters()) max = Math.max(max, c.reportAgeSeconds ?? 0);
        return max;
      }),
    );
    collectedGauge(
      M.autoRollbacks,
      r,
      single(() => count(clusters(), c => c.autoRolledBack)),
    );
    collectedGauge(
      M.autoImportDisabled,
      r,
      single(() => count(clusters(), c => c.autoImportDisabled)),
    );
    collectedGauge(
      M.leader,
      r,
      single(() => (source.isLeader() ? 1 : 0)),
    );
  }

  /**
   * Observes the stages and phases of `report`'s history that completed since the last look.
   * On the first look at a cluster, entries completed before the hub started are taken as
   * already counted, so a restart does not count history twice.
   */
  observeHistory(cluster: string, report: Report | undefined): void {
    const history: readonly StageHistory[] = report?.ibu?.status?.history ?? [];
    let seen = this.observed.get(cluster);
    const first = !seen;
    if (!seen) this.observed.set(cluster, (seen = new Set()));
    for (const h of history) {
      const stageKey = `${h.stage}|${h.startTime ?? ""}`;
      this.once(seen, first, stageKey, h.startTime, h.completionTime, d =>
        this.stageDuration.observe({ stage: h.stage }, d),
      );
      for (const p of h.phases ?? []) {
        this.once(
          seen,
          first,
          `${stageKey}|${p.phase}|${p.startTime ?? ""}`,
          p.startTime,
          p.completionTime,
          d => this.phaseDuration.observe({ stage: h.stage, phase: p.phase }, d),
        );
      }
    }
  }

  forget(cluster: string): void {
    this.observed.delete(cluster);
  }

  private once(
    seen: Set<string>,
    first: boolean,
    key: string,
    start: string | undefined,
    end: string | undefined,
    observe: (seconds: number) => void,
  ): void {
    if (!start || !end || seen.has(key)) return;
    seen.add(key);
    const s = Date.parse(start);
    const e = Date.parse(end);
    if (!Number.isFinite(s) || !Number.isFinite(e) || e < s) return;
    // Timestamps have whole seconds: allow one second of truncation.
    if (first && e < this.startedAt - 1000) return;
    observe((e - s) / 1000);
  }

  /** The exposition (Prometheus text format 0.0.4), with the collected gauges read now. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** The exposition's Content-Type. */
  get contentType(): string {
    return this.registry.contentType;
  }
}

function count(clusters: Iterable<ClusterSummary>, is: (c: ClusterSummary) => boolean): number {
  let n = 0;
  for (const c of clusters) if (is(c)) n++;
  return n;
}
