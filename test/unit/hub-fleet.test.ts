// The hub's pure views: cluster summaries, fleet counts, filters and pages; the auto-import
// decision over LCA-shaped IBU conditions; CLI value parsing.
import { describe, expect, it } from "vitest";
import type { Condition, Stage } from "../../addon/agent/ibu-types.js";
import {
  completeStage,
  idleConditions,
  requestTransition,
} from "../../addon/agent/stage-machine.js";
import { neededAction } from "../../addon/hub/autoimport.js";
import { tokenOf } from "../../addon/hub/auth.js";
import { parseDuration } from "../../addon/hub/duration.js";
import {
  Fleet,
  decodeContinue,
  fleetSummary,
  isDone,
  matchesFilter,
  staterootVersion,
  page,
  summarize,
  type ClusterSummary,
  type ManagedClusterInfo,
} from "../../addon/hub/fleet.js";
import { filterOf, limitOf, parseListen } from "../../addon/hub/server.js";
import { DISABLE_AUTO_IMPORT, stageState, type Report } from "../../addon/shared/report.js";

const T = "2025-01-01T00:00:00Z";

function report(stage: Stage, conditions: Condition[], extra: Partial<Report> = {}): Report {
  const ibu = { spec: { stage }, status: { conditions } };
  return {
    clusterName: "c",
    reportTime: T,
    stage,
    state: stageState(ibu),
    ibu,
    ...extra,
  };
}

const mc = (annotated: boolean): ManagedClusterInfo => ({
  name: "c",
  labels: {},
  annotations: annotated ? { [DISABLE_AUTO_IMPORT]: "true" } : {},
});

describe("auto-import decision", () => {
  const idle = idleConditions(T);
  const prepping = requestTransition(idle, "Prep", false, T).conditions;
  const prepped = completeStage(prepping, "Prep", T);
  const upgrading = requestTransition(prepped, "Upgrade", false, T).conditions;
  const upgraded = completeStage(upgrading, "Upgrade", T);
  const aborting = requestTransition(prepped, "Idle", false, T).conditions;

  it("leaves a cluster between PrepCompleted and the start of Upgrade alone", () => {
    expect(neededAction(report("Prep", prepped), mc(true))).toBeUndefined();
    expect(neededAction(report("Prep", prepped), mc(false))).toBeUndefined();
  });

  it("disables when Upgrade is requested or in progress, once", () => {
    expect(neededAction(report("Upgrade", prepped), mc(false))?.action).toBe("disable");
    expect(neededAction(report("Upgrade", upgrading), mc(false))?.action).toBe("disable");
    expect(neededAction(report("Upgrade", upgrading), mc(true))).toBeUndefined();
  });

  it("enables after Upgrade completed, on Idle, not while aborting", () => {
    expect(neededAction(report("Upgrade", upgraded), mc(true))?.action).toBe("enable");
    expect(neededAction(report("Idle", idle), mc(true))?.action).toBe("enable");
    expect(neededAction(report("Idle", idle), mc(false))).toBeUndefined();
    expect(neededAction(report("Idle", aborting), mc(true))).toBeUndefined();
  });

  it("does nothing without a report, an IBU or a ManagedCluster", () => {
    expect(neededAction(undefined, mc(true))).toBeUndefined();
    expect(neededAction(report("Idle", idle), undefined)).toBeUndefined();
    const bare: Report = { ...report("Idle", idle) };
    delete bare.ibu;
    expect(neededAction(bare, mc(true))).toBeUndefined();
  });
});

const s = (name: string, over: Partial<ClusterSummary> = {}): ClusterSummary => ({
  name,
  stage: "Idle",
  state: "Idle",
  message: "",
  managed: true,
  autoImportDisabled: false,
  autoRolledBack: false,
  stuck: false,
  done: false,
  ...over,
});

describe("fleet summary", () => {
  it("counts per stage, state, group and lists failed, stuck and rolled-back clusters", () => {
    const sum = fleetSummary([
      s("a", { stage: "Prep", state: "InProgress", group: "g1", stuck: true }),
      s("b", { stage: "Prep", state: "Failed", group: "g1" }),
      s("c", { stage: "Upgrade", state: "Failed", group: "g2", autoImportDisabled: true }),
      s("d", { autoRolledBack: true }),
      s("e", { stage: "Unknown", state: "NoReport" }),
    ]);
    expect(sum.total).toBe(5);
    expect(sum.reported).toBe(4);
    expect(sum.byStage).toEqual({ Prep: 2, Upgrade: 1, Idle: 1, Unknown: 1 });
    expect(sum.byState).toEqual({ InProgress: 1, Failed: 2, Idle: 1, NoReport: 1 });
    expect(sum.byStageState.Prep).toEqual({ InProgress: 1, Failed: 1 });
    expect(sum.byGroup.g1).toMatchObject({
      total: 2,
      done: 0,
      failed: 1,
      inProgress: 1,
      byStage: { Prep: 2 },
      byState: { InProgress: 1, Failed: 1 },
    });
    expect(sum.ungrouped).toBe(2);
    expect(sum.autoImportDisabled).toBe(1);
    expect(sum.failed).toEqual({ count: 2, clusters: ["b", "c"] });
    expect(sum.stuck.clusters).toEqual(["a"]);
    expect(sum.autoRolledBack.clusters).toEqual(["d"]);
  });

  it("calls a cluster stuck only when in progress without progress past the threshold", () => {
    const old = "2025-01-01T00:00:00Z";
    const inProgress = requestTransition(idleConditions(old), "Prep", false, old).conditions;
    const rec = { name: "c", report: report("Prep", inProgress, { reportTime: old }) };
    const t0 = Date.parse(old);
    expect(summarize(rec, undefined, t0 + 29 * 60_000, 30 * 60_000).stuck).toBe(false);
    expect(summarize(rec, undefined, t0 + 31 * 60_000, 30 * 60_000).stuck).toBe(true);
    // the hub saw the state begin later than the conditions say
    const seen = { ...rec, stateSince: t0 + 10 * 60_000 };
    expect(summarize(seen, undefined, t0 + 31 * 60_000, 30 * 60_000).stuck).toBe(false);
    const done = { name: "c", report: report("Prep", completeStage(inProgress, "Prep", old)) };
    expect(summarize(done, undefined, t0 + 99 * 60_000, 30 * 60_000).stuck).toBe(false);
  });

  it("scopes the fleet to ManagedClusters when asked", () => {
    const f = new Fleet(true);
    f.reports.set("x", { report: report("Idle", idleConditions(T)) });
    expect(f.names()).toEqual([]);
    f.managed.set("x", mc(false));
    f.namesChanged();
    expect(f.names()).toEqual(["x"]);
    const open = new Fleet(false);
    open.reports.set("y", { report: report("Idle", idleConditions(T)) });
    expect(open.summary("y", Date.now(), 1)?.managed).toBe(false);
  });
});

describe("the rule of progress: done is on the target version and finalized", () => {
  const idleAt = (v: string | undefined, target: string | undefined): ClusterSummary =>
    s("c", {
      stage: "Idle",
      state: "Idle",
      ...(v ? { currentVersion: v } : {}),
      ...(target ? { targetVersion: target } : {}),
    });

  it("counts only a finalized cluster on the target version as done", () => {
    expect(isDone(idleAt("4.18.1", "4.18.1"))).toBe(true);
    // Idle but never upgraded, or rolled back and finalized: not done.
    expect(isDone(idleAt(undefined, "4.18.1"))).toBe(false);
    expect(isDone(idleAt("4.17.0", "4.18.1"))).toBe(false);
    expect(isDone(idleAt("4.18.1", undefined))).toBe(false);
    // Upgrade completed on the new version but not finalized yet: not done.
    const upgraded = { currentVersion: "4.18.1", targetVersion: "4.18.1" };
    expect(isDone(s("c", { stage: "Upgrade", state: "Completed", ...upgraded }))).toBe(false);
    expect(isDone(s("c", { stage: "Idle", state: "InProgress", ...upgraded }))).toBe(false);
  });

  it("reads the version from LCA's stateroot name, and none from an installed one", () => {
    expect(staterootVersion("rhcos_4.18.1")).toBe("4.18.1");
    expect(staterootVersion("rhcos_4.18.0_rc.1")).toBe("4.18.0-rc.1");
    expect(staterootVersion("rhcos")).toBeUndefined();
    expect(staterootVersion(undefined)).toBeUndefined();
  });

  it("summarizes a report's versions and verdict, and keeps the history a finalize clears", () => {
    const upgrading = report("Upgrade", idleConditions(T), {
      node: { bootedStateroot: "rhcos_4.18.1" },
    });
    upgrading.ibu = {
      spec: { stage: "Upgrade", seedImageRef: { image: "r/s:4.18.1", version: "4.18.1" } },
      status: {
        conditions: idleConditions(T),
        history: [{ stage: "Upgrade", startTime: T, completionTime: T, phases: [] }],
      },
    };
    const finalized: Report = {
      ...upgrading,
      stage: "Idle",
      state: "Idle",
      ibu: { spec: { ...upgrading.ibu.spec!, stage: "Idle" }, status: { conditions: [] } },
    };
    const f = new Fleet(false);
    f.setReport("c", upgrading);
    f.setReport("c", finalized);
    f.namesChanged();
    const d = f.detail("c", Date.parse(T), 60_000)!;
    expect(d).toMatchObject({ currentVersion: "4.18.1", targetVersion: "4.18.1", done: true });
    expect(d.history).toEqual([]);
    expect(d.lastHistory?.map(h => h.stage)).toEqual(["Upgrade"]);
  });

  it("counts done, failed and in progress per group and per batch, and names who needs attention", () => {
    const on = { currentVersion: "4.18.1", targetVersion: "4.18.1" };
    const sum = fleetSummary([
      s("a", { group: "g", batch: 1, ...on, done: true }),
      s("b", { group: "g", batch: 1, stage: "Upgrade", state: "Failed", ...on }),
      s("c", { group: "g", batch: 2, stage: "Upgrade", state: "InProgress", currentBatch: 2 }),
      s("d", { group: "g", batch: 2, stage: "Prep", state: "Blocked" }),
      s("e", { group: "h", autoRolledBack: true, currentVersion: "4.17.0" }),
    ]);
    expect(sum.done).toBe(1);
    expect(sum.byGroup.g).toMatchObject({ total: 4, done: 1, failed: 2, inProgress: 1 });
    expect(sum.byGroup.g!.currentBatch).toBe(2);
    expect(sum.byGroup.g!.batches["1"]).toMatchObject({ total: 2, done: 1, failed: 1 });
    expect(sum.byGroup.g!.batches["2"]).toMatchObject({ total: 2, done: 0, failed: 1 });
    expect(sum.byGroup.g!.currentVersions).toEqual({ "4.18.1": 2, unknown: 2 });
    expect(sum.byGroup.h!.currentVersions).toEqual({ "4.17.0": 1 });
    expect(sum.attention).toEqual({ count: 3, clusters: ["b", "d", "e"] });
  });
});

describe("filters and pages", () => {
  const all = ["a1", "a2", "b1", "b2", "c1"].map(n =>
    s(n, { group: n[0], stage: n.endsWith("1") ? "Prep" : "Idle" }),
  );
  const byName = new Map(all.map(x => [x.name, x]));

  it("filters by stage, state, group lists and name substring", () => {
    expect(all.filter(x => matchesFilter(x, { stage: ["Prep"] })).map(x => x.name)).toEqual([
      "a1",
      "b1",
      "c1",
    ]);
    expect(
      all.filter(x => matchesFilter(x, { group: ["a", "c"], name: "1" })).map(x => x.name),
    ).toEqual(["a1", "c1"]);
    expect(filterOf(new URLSearchParams("stage=Prep,Idle&name=x&group="))).toEqual({
      stage: ["Prep", "Idle"],
      name: "x",
    });
  });

  it("pages stably by name with continue tokens", () => {
    const names = [...byName.keys()];
    const p1 = page(
      names,
      n => byName.get(n),
      () => true,
      2,
    );
    expect(p1.items.map(x => x.name)).toEqual(["a1", "a2"]);
    expect(p1.remaining).toBe(3);
    const p2 = page(
      names,
      n => byName.get(n),
      () => true,
      2,
      decodeContinue(p1.continue!),
    );
    expect(p2.items.map(x => x.name)).toEqual(["b1", "b2"]);
    const p3 = page(
      names,
      n => byName.get(n),
      () => true,
      2,
      decodeContinue(p2.continue!),
    );
    expect(p3.items.map(x => x.name)).toEqual(["c1"]);
    expect(p3.continue).toBeUndefined();
    // a name removed at the boundary does not shift the next page
    const fewer = names.filter(n => n !== "a2");
    expect(
      page(
        fewer,
        n => byName.get(n),
        () => true,
        2,
        "a2",
      ).items.map(x => x.name),
    ).toEqual(["b1", "b2"]);
    expect(() => decodeContinue("!!")).toThrow();
  });

  it("checks limit", () => {
    expect(limitOf(new URLSearchParams(""))).toBe(500);
    expect(limitOf(new URLSearchParams("limit=7"))).toBe(7);
    expect(() => limitOf(new URLSearchParams("limit=0"))).toThrow(/limit/);
    expect(() => limitOf(new URLSearchParams("limit=x"))).toThrow(/limit/);
  });
});

describe("CLI values", () => {
  it.each([
    ["30m", 1_800_000],
    ["1h30m", 5_400_000],
    ["90s", 90_000],
    ["1h0m0s", 3_600_000],
    ["250ms", 250],
  ])("duration %s", (t, ms) => expect(parseDuration(t)).toBe(ms));

  it("rejects bad durations and listen addresses", () => {
    expect(() => parseDuration("30")).toThrow(/not a duration/);
    expect(() => parseDuration("1d")).toThrow(/not a duration/);
    expect(() => parseListen("host:")).toThrow(/listen/);
    expect(() => parseListen(":99999")).toThrow(/listen/);
  });

  it("reads listen addresses", () => {
    expect(parseListen(":8443")).toEqual({ host: undefined, port: 8443 });
    expect(parseListen("127.0.0.1:0")).toEqual({ host: "127.0.0.1", port: 0 });
    expect(parseListen("[::1]:80")).toEqual({ host: "::1", port: 80 });
    expect(parseListen("9000")).toEqual({ host: undefined, port: 9000 });
  });

  it("takes the bearer token or oauth-proxy's forwarded token", () => {
    expect(tokenOf({ authorization: "Bearer abc" })).toBe("abc");
    expect(tokenOf({ "x-forwarded-access-token": "def" })).toBe("def");
    expect(tokenOf({ authorization: "Basic xyz" })).toBeUndefined();
    expect(tokenOf({})).toBeUndefined();
  });
});
