// The hub's metrics on prom-client: the exposition declares exactly the contract (api/metrics.ts)
// with its labels, fleet gauges are collected at scrape time, history durations count once.
import { describe, expect, it } from "vitest";
import { HUB_METRICS } from "../../api/metrics.js";
import { HubMetrics } from "../../addon/hub/hub-metrics.js";
import type { ClusterSummary } from "../../addon/hub/fleet.js";
import type { Report } from "../../addon/shared/report.js";

const none = { summaries: (): ClusterSummary[] => [], isLeader: (): boolean => false };

/** The value of one series in an exposition, or undefined when the series is absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find(l => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("the exposition", () => {
  it("declares every metric of the contract with its type and HELP, and nothing else", async () => {
    const text = await new HubMetrics(none).render();
    const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(m => [m[1], m[2]]);
    expect(types).toEqual(Object.values(HUB_METRICS).map(m => [m.name, m.type]));
    for (const m of Object.values(HUB_METRICS))
      expect(text).toContain(`# HELP ${m.name} ${m.help}\n`);
  });

  it("escapes label values as the text format requires", async () => {
    const m = new HubMetrics(none);
    m.failures.inc({ stage: 'we"ird\\\n' });
    expect(await m.render()).toContain('ibu_gitops_failures_total{stage="we\\"ird\\\\\\n"} 1');
  });

  it("keeps each instance's series apart (a registry per hub, not the global one)", async () => {
    const a = new HubMetrics(none);
    const b = new HubMetrics(none);
    a.autoImportActions.inc({ action: "disable" });
    expect(await a.render()).toContain('ibu_gitops_autoimport_actions_total{action="disable"} 1');
    expect(await b.render()).not.toContain("ibu_gitops_autoimport_actions_total{");
  });

  it("renders histograms as cumulative buckets, sum and count", async () => {
    const m = new HubMetrics(none);
    for (const s of [3, 20, 50_000])
      m.phaseDuration.observe({ stage: "Prep", phase: "Precache" }, s);
    const text = await m.render();
    const l = 'stage="Prep",phase="Precache"';
    expect(sample(text, `ibu_gitops_phase_duration_seconds_bucket{le="5",${l}}`)).toBe(1);
    expect(sample(text, `ibu_gitops_phase_duration_seconds_bucket{le="30",${l}}`)).toBe(2);
    expect(sample(text, `ibu_gitops_phase_duration_seconds_bucket{le="7200",${l}}`)).toBe(2);
    expect(sample(text, `ibu_gitops_phase_duration_seconds_bucket{le="+Inf",${l}}`)).toBe(3);
    expect(sample(text, `ibu_gitops_phase_duration_seconds_sum{${l}}`)).toBe(50_023);
    expect(sample(text, `ibu_gitops_phase_duration_seconds_count{${l}}`)).toBe(3);
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

  it("collects fleet gauges at scrape time", async () => {
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
    const text = await m.render();
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
    clusters.pop();
    const later = await m.render();
    expect(later).not.toContain('ibu_gitops_clusters{stage="Upgrade",state="Failed"}');
    expect(later).toContain("ibu_gitops_auto_rollbacks 0");
  });

  it("counts each completed stage and phase of the history once", async () => {
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
    const text = await m.render();
    expect(sample(text, 'ibu_gitops_stage_duration_seconds_count{stage="Prep"}')).toBe(1);
    expect(sample(text, 'ibu_gitops_stage_duration_seconds_sum{stage="Prep"}')).toBe(1800);
    const phase = (p: string): number | undefined =>
      sample(text, `ibu_gitops_phase_duration_seconds_count{stage="Prep",phase="${p}"}`);
    expect(phase("Stateroot")).toBe(1);
    expect(phase("Precache")).toBeUndefined();
  });

  it("takes history completed before the hub started as already counted", async () => {
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
    expect(await m.render()).not.toContain("ibu_gitops_stage_duration_seconds_count{");
  });
});
