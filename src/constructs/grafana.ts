// Grafana for ACM observability (docs/dashboard.md): a dashboard over the hub controller's
// metrics, shipped as a ConfigMap labelled `grafana-custom-dashboard: "true"` in
// open-cluster-management-observability (ACM's dashboard loader picks it up), and the metrics
// allowlist ConfigMap that lets those series through to ACM's Thanos. The metric names come from
// the contract the hub registers (api/metrics.ts), so a renamed metric cannot drift from the dashboard.
import { HUB_METRICS, seriesNames } from "../../api/metrics.js";

export const OBSERVABILITY_NAMESPACE = "open-cluster-management-observability";
export const DASHBOARD_CONFIGMAP = "ibu-gitops-grafana-dashboard";
export const ALLOWLIST_CONFIGMAP = "observability-metrics-custom-allowlist";
export const DASHBOARD_KEY = "ibu-gitops.json";
export const DASHBOARD_FOLDER = "ibu-gitops";
/** Stable: Grafana links and the loader match the dashboard by it. */
export const DASHBOARD_UID = "ibu-gitops-hub";

/** Every series name the hub exports: histograms as their _bucket, _sum and _count series. */
export function hubSeries(): string[] {
  return seriesNames(Object.values(HUB_METRICS));
}

/** ACM's allowlist (`metrics_list.yaml`): every series of the hub, by exact name. */
export function metricsAllowlist(): { names: string[] } {
  return { names: hubSeries() };
}

interface Target {
  readonly expr: string;
  readonly legendFormat: string;
  readonly refId: string;
}

export interface Panel {
  readonly id: number;
  readonly type: string;
  readonly title: string;
  readonly description?: string;
  readonly gridPos: { h: number; w: number; x: number; y: number };
  readonly datasource: { type: string; uid: string };
  readonly targets: readonly Target[];
  readonly fieldConfig: { defaults: Record<string, unknown>; overrides: unknown[] };
  readonly options?: Record<string, unknown>;
}

export interface GrafanaDashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly [key: string]: unknown;
}

const DS = { type: "prometheus", uid: "${datasource}" };
/** Every query is scoped to the chosen hub (ACM labels each series with its `cluster`). */
const SEL = 'cluster=~"$cluster"';

type PanelSpec = {
  type: "stat" | "timeseries" | "bargauge" | "table";
  title: string;
  description: string;
  w: number;
  h: number;
  unit?: string;
  queries: Array<[expr: string, legend: string]>;
};

/*
 * Every replica of the hub exports the fleet gauges (each watches the whole fleet), and counts
 * the transitions it sees: `max by (...)` keeps one replica's view instead of adding them up.
 * Quantiles are unchanged by summing identical replicas' buckets.
 */
const PANELS: PanelSpec[] = [
  {
    type: "stat",
    title: "Clusters",
    description: "Managed clusters in the fleet.",
    w: 4,
    h: 4,
    queries: [[`sum(max by (stage, state) (ibu_gitops_clusters{${SEL}}))`, "clusters"]],
  },
  {
    type: "stat",
    title: "Failed",
    description: "Clusters whose current IBU stage failed.",
    w: 4,
    h: 4,
    queries: [[`sum(max by (stage) (ibu_gitops_clusters{${SEL}, state="Failed"}))`, "failed"]],
  },
  {
    type: "stat",
    title: "Auto rolled back",
    description: "Clusters whose node rolled back on its own.",
    w: 4,
    h: 4,
    queries: [[`max(ibu_gitops_auto_rollbacks{${SEL}})`, "auto rollbacks"]],
  },
  {
    type: "stat",
    title: "Auto-import disabled",
    description: "ManagedClusters carrying the disable-auto-import annotation.",
    w: 4,
    h: 4,
    queries: [[`max(ibu_gitops_auto_import_disabled{${SEL}})`, "disabled"]],
  },
  {
    type: "stat",
    title: "Oldest report",
    description: "Age of the oldest cluster report: a silent agent shows here.",
    w: 4,
    h: 4,
    unit: "s",
    queries: [[`max(ibu_gitops_report_age_seconds{${SEL}})`, "age"]],
  },
  {
    type: "stat",
    title: "Leaders",
    description: "Hub replicas holding the Lease (should be 1).",
    w: 4,
    h: 4,
    queries: [[`sum(ibu_gitops_leader{${SEL}})`, "leaders"]],
  },
  {
    type: "timeseries",
    title: "Clusters by stage and state",
    description: "The fleet's progress: clusters per IBU stage and state.",
    w: 12,
    h: 9,
    queries: [[`max by (stage, state) (ibu_gitops_clusters{${SEL}})`, "{{stage}} {{state}}"]],
  },
  {
    type: "bargauge",
    title: "Clusters by group",
    description: "Clusters per rollout group, stage and state (group empty: no group).",
    w: 12,
    h: 9,
    queries: [
      [
        `max by (group, stage, state) (ibu_gitops_clusters_by_group{${SEL}, group=~"$group"})`,
        "{{group}} {{stage}} {{state}}",
      ],
    ],
  },
  {
    type: "timeseries",
    title: "Stage transitions",
    description: "Changes of clusters' stage or state per minute, by the new stage and state.",
    w: 12,
    h: 8,
    unit: "cpm",
    queries: [
      [
        `max by (stage, state) (rate(ibu_gitops_stage_transitions_total{${SEL}}[$__rate_interval])) * 60`,
        "{{stage}} {{state}}",
      ],
    ],
  },
  {
    type: "timeseries",
    title: "Failures",
    description: "Clusters whose stage became Failed, per hour.",
    w: 12,
    h: 8,
    queries: [[`max by (stage) (increase(ibu_gitops_failures_total{${SEL}}[1h]))`, "{{stage}}"]],
  },
  {
    type: "timeseries",
    title: "Stage duration (p50, p95)",
    description: "Completed stages, from status.history.",
    w: 12,
    h: 8,
    unit: "s",
    queries: [
      [
        `histogram_quantile(0.5, sum by (le, stage) (rate(ibu_gitops_stage_duration_seconds_bucket{${SEL}}[$__range])))`,
        "{{stage}} p50",
      ],
      [
        `histogram_quantile(0.95, sum by (le, stage) (rate(ibu_gitops_stage_duration_seconds_bucket{${SEL}}[$__range])))`,
        "{{stage}} p95",
      ],
      [
        `sum by (stage) (rate(ibu_gitops_stage_duration_seconds_sum{${SEL}}[$__range])) / sum by (stage) (rate(ibu_gitops_stage_duration_seconds_count{${SEL}}[$__range]))`,
        "{{stage}} mean",
      ],
    ],
  },
  {
    type: "timeseries",
    title: "Phase duration (p95)",
    description: "Completed phases of each stage, from status.history.",
    w: 12,
    h: 8,
    unit: "s",
    queries: [
      [
        `histogram_quantile(0.95, sum by (le, stage, phase) (rate(ibu_gitops_phase_duration_seconds_bucket{${SEL}}[$__range])))`,
        "{{stage}} {{phase}}",
      ],
    ],
  },
  {
    type: "timeseries",
    title: "Auto-import annotation changes",
    description:
      "disable-auto-import annotations added (disable) and removed (enable), and failed attempts.",
    w: 12,
    h: 8,
    queries: [
      [
        `sum by (action) (increase(ibu_gitops_autoimport_actions_total{${SEL}}[$__rate_interval]))`,
        "{{action}}",
      ],
      [`sum(increase(ibu_gitops_autoimport_errors_total{${SEL}}[$__rate_interval]))`, "errors"],
    ],
  },
  {
    type: "timeseries",
    title: "Leader",
    description: "1 on the replica holding the Lease.",
    w: 12,
    h: 8,
    queries: [[`max by (pod) (ibu_gitops_leader{${SEL}})`, "{{pod}}"]],
  },
];

function layout(specs: readonly PanelSpec[]): Panel[] {
  let x = 0;
  let y = 0;
  let rowH = 0;
  return specs.map((p, i) => {
    if (x + p.w > 24) {
      x = 0;
      y += rowH;
      rowH = 0;
    }
    const panel: Panel = {
      id: i + 1,
      type: p.type,
      title: p.title,
      description: p.description,
      gridPos: { h: p.h, w: p.w, x, y },
      datasource: DS,
      targets: p.queries.map(([expr, legendFormat], j) => ({
        expr,
        legendFormat,
        refId: String.fromCharCode(65 + j),
      })),
      fieldConfig: { defaults: { ...(p.unit ? { unit: p.unit } : {}) }, overrides: [] },
      ...(p.type === "stat" ? { options: { reduceOptions: { calcs: ["lastNotNull"] } } } : {}),
    };
    x += p.w;
    rowH = Math.max(rowH, p.h);
    return panel;
  });
}

/** The dashboard: fleet counts, progress, failures, durations, auto-import and leadership. */
export function grafanaDashboard(): GrafanaDashboard {
  return {
    uid: DASHBOARD_UID,
    title: "ibu-gitops: image-based upgrades",
    description: "Image-based upgrade progress of the fleet, from the ibu-gitops hub controller",
    tags: ["ibu-gitops", "image-based-upgrade"],
    editable: false,
    schemaVersion: 39,
    version: 1,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    timezone: "browser",
    templating: {
      list: [
        {
          name: "datasource",
          label: "Data source",
          type: "datasource",
          query: "prometheus",
          current: { text: "Observatorium", value: "Observatorium" },
          hide: 0,
        },
        {
          name: "cluster",
          label: "Hub",
          type: "query",
          datasource: DS,
          query: { query: "label_values(ibu_gitops_leader, cluster)", refId: "cluster" },
          definition: "label_values(ibu_gitops_leader, cluster)",
          includeAll: true,
          allValue: ".*",
          multi: false,
          refresh: 2,
          sort: 1,
        },
        {
          name: "group",
          label: "Group",
          type: "query",
          datasource: DS,
          query: {
            query: 'label_values(ibu_gitops_clusters_by_group{cluster=~"$cluster"}, group)',
            refId: "group",
          },
          definition: 'label_values(ibu_gitops_clusters_by_group{cluster=~"$cluster"}, group)',
          includeAll: true,
          allValue: ".*",
          multi: true,
          refresh: 2,
          sort: 1,
        },
      ],
    },
    annotations: { list: [] },
    panels: layout(PANELS),
  };
}
