// The hub controller's Prometheus metrics as a contract: name, type, labels and meaning of every
// series it exports. The hub registers exactly these; the Grafana dashboard and ACM's allowlist
// are generated from them. Dependency-free, so the generator need not load the hub to know them.

export type MetricType = "counter" | "gauge" | "histogram";

/** One metric: its name, Prometheus type, label names (in order) and HELP text. */
export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly labels: readonly string[];
  readonly help: string;
}

const spec = <const L extends readonly string[]>(
  name: string,
  type: MetricType,
  labels: L,
  help: string,
): MetricSpec & { readonly labels: L } => ({ name, type, labels, help });

/** Every metric the hub controller exports (`GET /metrics`, docs/hub.md), in exposition order. */
export const HUB_METRICS = {
  clusters: spec(
    "ibu_gitops_clusters",
    "gauge",
    ["stage", "state"],
    "Managed clusters by IBU stage and state (Unknown/NoReport: no report yet).",
  ),
  clustersByGroup: spec(
    "ibu_gitops_clusters_by_group",
    "gauge",
    ["group", "stage", "state"],
    "Managed clusters by rollout group, stage and state (group is empty for clusters in no group).",
  ),
  transitions: spec(
    "ibu_gitops_stage_transitions_total",
    "counter",
    ["stage", "state"],
    "Changes of a cluster's stage or state seen by the hub, by the new stage and state.",
  ),
  failures: spec(
    "ibu_gitops_failures_total",
    "counter",
    ["stage"],
    "Clusters whose stage became Failed, by stage.",
  ),
  stageDuration: spec(
    "ibu_gitops_stage_duration_seconds",
    "histogram",
    ["stage"],
    "Duration of completed IBU stages, from status.history (each counted once).",
  ),
  phaseDuration: spec(
    "ibu_gitops_phase_duration_seconds",
    "histogram",
    ["stage", "phase"],
    "Duration of completed IBU stage phases, from status.history (each counted once).",
  ),
  autoImportActions: spec(
    "ibu_gitops_autoimport_actions_total",
    "counter",
    ["action"],
    "Changes the hub made to the disable-auto-import annotation (action: disable or enable).",
  ),
  autoImportErrors: spec(
    "ibu_gitops_autoimport_errors_total",
    "counter",
    [],
    "Failed attempts to change the disable-auto-import annotation (retried).",
  ),
  reportAge: spec(
    "ibu_gitops_report_age_seconds",
    "gauge",
    [],
    "Age of the oldest cluster report.",
  ),
  autoRollbacks: spec(
    "ibu_gitops_auto_rollbacks",
    "gauge",
    [],
    "Clusters whose node rolled back on its own.",
  ),
  autoImportDisabled: spec(
    "ibu_gitops_auto_import_disabled",
    "gauge",
    [],
    "Managed clusters that carry the disable-auto-import annotation.",
  ),
  leader: spec("ibu_gitops_leader", "gauge", [], "1 when this replica is the leader."),
} as const;

/** Every series name of `metrics`: a histogram as its `_bucket`, `_sum` and `_count` series. */
export function seriesNames(metrics: Iterable<MetricSpec>): string[] {
  return [...metrics]
    .flatMap(m =>
      m.type === "histogram" ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name],
    )
    .sort();
}
