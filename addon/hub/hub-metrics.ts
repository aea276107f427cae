// The hub's Prometheus metrics. Fleet gauges are collected from the model at scrape time;
// counters and histograms are fed by the controller as it observes changes.
import type { StageHistory } from "../agent/ibu-types.js";
import type { Report } from "../shared/report.js";
import type { ClusterSummary } from "./fleet.js";
import { Counter, Gauge, Histogram, Registry, type Labels } from "./metrics.js";

export interface MetricsSource {
  summaries(): Iterable<ClusterSummary>;
  isLeader(): boolean;
}

const STAGE_BUCKETS = [60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 28800];
const PHASE_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200];

export class HubMetrics {
  readonly registry = new Registry();
  readonly transitions: Counter;
  readonly failures: Counter;
  readonly stageDuration: Histogram;
  readonly phaseDuration: Histogram;
  readonly autoImportActions: Counter;
  readonly autoImportErrors: Counter;
  /** cluster → history entries already observed (stage and phase durations count once). */
  private readonly observed = new Map<string, Set<string>>();

  constructor(
    source: MetricsSource,
    private readonly startedAt = Date.now(),
  ) {
    const r = this.registry;
    const collect = (labels: (c: ClusterSummary) => Labels) =>
      function* (): Iterable<readonly [Labels, number]> {
        const counts = new Map<string, [Labels, number]>();
        for (const c of source.summaries()) {
          const l = labels(c);
          const key = JSON.stringify(l);
          const e = counts.get(key);
          if (e) e[1]++;
          else counts.set(key, [l, 1]);
        }
        yield* counts.values();
      };
    r.register(
      new Gauge(
        "ibu_gitops_clusters",
        "Managed clusters by IBU stage and state (Unknown/NoReport: no report yet).",
        ["stage", "state"],
        collect(c => ({ stage: c.stage, state: c.state })),
      ),
    );
    r.register(
      new Gauge(
        "ibu_gitops_clusters_by_group",
        "Managed clusters by rollout group, stage and state (group is empty for clusters in no group).",
        ["group", "stage", "state"],
        collect(c => ({ group: c.group ?? "", stage: c.stage, state: c.state })),
      ),
    );
    this.transitions = r.register(
      new Counter(
        "ibu_gitops_stage_transitions_total",
        "Changes of a cluster's stage or state seen by the hub, by the new stage and state.",
        ["stage", "state"],
      ),
    );
    this.failures = r.register(
      new Counter("ibu_gitops_failures_total", "Clusters whose stage became Failed, by stage.", [
        "stage",
      ]),
    );
    this.stageDuration = r.register(
      new Histogram(
        "ibu_gitops_stage_duration_seconds",
        "Duration of completed IBU stages, from status.history (each counted once).",
        ["stage"],
        STAGE_BUCKETS,
      ),
    );
    this.phaseDuration = r.register(
      new Histogram(
        "ibu_gitops_phase_duration_seconds",
        "Duration of completed IBU stage phases, from status.history (each counted once).",
        ["stage", "phase"],
        PHASE_BUCKETS,
      ),
    );
    this.autoImportActions = r.register(
      new Counter(
        "ibu_gitops_autoimport_actions_total",
        "Changes the hub made to the disable-auto-import annotation (action: disable or enable).",
        ["action"],
      ),
    );
    this.autoImportErrors = r.register(
      new Counter(
        "ibu_gitops_autoimport_errors_total",
        "Failed attempts to change the disable-auto-import annotation (retried).",
      ),
    );
    r.register(
      new Gauge("ibu_gitops_report_age_seconds", "Age of the oldest cluster report.", [], () => {
        let max = 0;
        for (const c of source.summaries()) max = Math.max(max, c.reportAgeSeconds ?? 0);
        return [[{}, max]];
      }),
    );
    r.register(
      new Gauge(
        "ibu_gitops_auto_rollbacks",
        "Clusters whose node rolled back on its own.",
        [],
        () => {
          let n = 0;
          for (const c of source.summaries()) if (c.autoRolledBack) n++;
          return [[{}, n]];
        },
      ),
    );
    r.register(
      new Gauge(
        "ibu_gitops_auto_import_disabled",
        "Managed clusters that carry the disable-auto-import annotation.",
        [],
        () => {
          let n = 0;
          for (const c of source.summaries()) if (c.autoImportDisabled) n++;
          return [[{}, n]];
        },
      ),
    );
    r.register(
      new Gauge("ibu_gitops_leader", "1 when this replica is the leader.", [], () => [
        [{}, source.isLeader() ? 1 : 0],
      ]),
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

  render(): string {
    return this.registry.render();
  }
}

/**
 * Every metric the hub exports, with its Prometheus type, as its exposition declares them (the
 * Grafana dashboard and the ACM metrics allowlist are built from this list).
 */
export function hubMetricNames(): Array<{ name: string; type: "counter" | "gauge" | "histogram" }> {
  const m = new HubMetrics({ summaries: () => [], isLeader: () => false });
  return [...m.render().matchAll(/^# TYPE (\S+) (counter|gauge|histogram)$/gm)].map(x => ({
    name: x[1]!,
    type: x[2] as "counter" | "gauge" | "histogram",
  }));
}
