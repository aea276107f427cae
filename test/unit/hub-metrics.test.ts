// The hub's hand-written Prometheus exposition: escaping, counters, gauges, histograms.
import { describe, expect, it } from "vitest";
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  escapeHelp,
  escapeLabelValue,
} from "../../addon/hub/metrics.js";
import { HubMetrics } from "../../addon/hub/hub-metrics.js";
import type { ClusterSummary } from "../../addon/hub/fleet.js";
import type { Report } from "../../addon/shared/report.js";

describe("exposition format", () => {
  it("escapes label values and help text", () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeHelp("x\\y\nz")).toBe("x\\\\y\\nz");
  });

  it("renders counters, gauges and histograms with HELP and TYPE", () => {
    const r = new Registry();
    const c = r.register(new Counter("t_total", "Things.", ["kind"]));
    c.inc({ kind: 'we"ird' });
    c.inc({ kind: 'we"ird' }, 2);
    c.inc({ kind: "a" });
    r.register(new Gauge("g", "A gauge.", [], () => [[{}, 1.5]]));
    const h = r.register(new Histogram("d_seconds", "Durations.", ["stage"], [10, 1]));
    h.observe({ stage: "Prep" }, 0.5);
    h.observe({ stage: "Prep" }, 5);
    h.observe({ stage: "Prep" }, 50);
    expect(r.render()).toBe(
      [
        "# HELP t_total Things.",
        "# TYPE t_total counter",
        't_total{kind="a"} 1',
        't_total{kind="we\\"ird"} 3',
        "# HELP g A gauge.",
        "# TYPE g gauge",
        "g 1.5",
        "# HELP d_seconds Durations.",
        "# TYPE d_seconds histogram",
        'd_seconds_bucket{stage="Prep",le="1"} 1',
        'd_seconds_bucket{stage="Prep",le="10"} 2',
        'd_seconds_bucket{stage="Prep",le="+Inf"} 3',
        'd_seconds_sum{stage="Prep"} 55.5',
        'd_seconds_count{stage="Prep"} 3',
        "",
      ].join("\n"),
    );
  });

  it("refuses a metric registered twice and bad names", () => {
    const r = new Registry();
    r.register(new Counter("x_total", "x"));
    expect(() => r.register(new Counter("x_total", "x"))).toThrow(/twice/);
    expect(() => new Counter("1bad", "x")).toThrow(/bad metric name/);
  });
});

describe("HubMetrics", () => {
  const summary = (name: string, over: Partial<ClusterSummary>): ClusterSummary => ({
    name,
    stage: "Prep",
    state: "InProgress",
    message: "",
    managed: true,
    autoImportDisabled: false,
    autoRolledBack: false,
    stuck: false,
    done: false,
    ...over,
  });

  it("collects fleet gauges at scrape time", () => {
    const clusters = [
      summary("a", { group: "g1" }),
      summary("b", { group: "g1" }),
      summary("c", {
        stage: "Upgrade",
        state: "Failed",
        autoRolledBack: true,
        reportAgeSeconds: 42,
      }),
    ];
    const m = new HubMetrics({ summaries: () => clusters, isLeader: () => true });
    const text = m.render();
    expect(text).toContain('ibu_gitops_clusters{stage="Prep",state="InProgress"} 2');
    expect(text).toContain('ibu_gitops_clusters{stage="Upgrade",state="Failed"} 1');
    expect(text).toContain(
      'ibu_gitops_clusters_by_group{group="g1",stage="Prep",state="InProgress"} 2',
    );
    expect(text).toContain(
      'ibu_gitops_clusters_by_group{group="",stage="Upgrade",state="Failed"} 1',
    );
    expect(text).toContain("ibu_gitops_auto_rollbacks 1");
    expect(text).toContain("ibu_gitops_report_age_seconds 42");
    expect(text).toContain("ibu_gitops_leader 1");
  });

  it("counts each completed stage and phase of the history once", () => {
    const started = Date.parse("2025-01-01T00:00:00Z");
    const m = new HubMetrics({ summaries: () => [], isLeader: () => false }, started);
    const report = (history: object[]): Report =>
      ({
        clusterName: "a",
        reportTime: "2025-01-01T01:00:00Z",
        stage: "Prep",
        state: "Completed",
        ibu: { spec: { stage: "Prep" }, status: { history } },
      }) as Report;
    const prep = {
      stage: "Prep",
      startTime: "2025-01-01T00:10:00Z",
      completionTime: "2025-01-01T00:40:00Z",
      phases: [
        {
          phase: "Stateroot",
          startTime: "2025-01-01T00:10:00Z",
          completionTime: "2025-01-01T00:11:00Z",
        },
        { phase: "Precache", startTime: "2025-01-01T00:11:00Z" },
      ],
    };
    m.observeHistory("a", report([prep]));
    m.observeHistory("a", report([prep]));
    expect(m.stageDuration.count({ stage: "Prep" })).toBe(1);
    expect(m.phaseDuration.count({ stage: "Prep", phase: "Stateroot" })).toBe(1);
    expect(m.phaseDuration.count({ stage: "Prep", phase: "Precache" })).toBe(0);
    expect(m.render()).toContain('ibu_gitops_stage_duration_seconds_sum{stage="Prep"} 1800');
  });

  it("takes history completed before the hub started as already counted", () => {
    const m = new HubMetrics(
      { summaries: () => [], isLeader: () => false },
      Date.parse("2025-06-01T00:00:00Z"),
    );
    m.observeHistory("a", {
      clusterName: "a",
      reportTime: "2025-06-01T00:00:00Z",
      stage: "Prep",
      state: "Completed",
      ibu: {
        status: {
          history: [
            {
              stage: "Prep",
              startTime: "2025-01-01T00:00:00Z",
              completionTime: "2025-01-01T00:30:00Z",
              phases: [],
            },
          ],
        },
      },
    });
    expect(m.stageDuration.count({ stage: "Prep" })).toBe(0);
  });
});
