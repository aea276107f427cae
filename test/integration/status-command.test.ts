// `ibu-gitops status` against the real hub: ManagedClusters, their reports (IBU conditions as
// the agent's stage machine writes them) and a CGU that makes a group; the counts, the group
// progress, the failed list, and untrusted text kept away from the terminal.
import { describe, expect, it } from "vitest";
import type { Condition, Ibu, Stage } from "../../addon/agent/ibu-types.js";
import {
  completeStage,
  failStage,
  idleConditions,
  requestTransition,
} from "../../addon/agent/stage-machine.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { autoRolledBack, reportPath, stageMessage, stageState } from "../../addon/shared/report.js";
import { runStatus } from "../../src/cli/status.js";
import { sharedCluster, uniqueName } from "../support/shared.js";

const hub = sharedCluster("hub");
const api = new KubeApi(hub.kubeConfig());
const T = "2026-11-26T10:00:00Z";

function ibu(stage: Stage, conditions: Condition[]): Ibu {
  return {
    apiVersion: "lca.openshift.io/v1",
    kind: "ImageBasedUpgrade",
    metadata: { name: "upgrade" },
    spec: { stage, seedImageRef: { image: "r/seed:4.18.1", version: "4.18.1" } },
    status: { conditions },
  };
}

const idle = idleConditions(T);
const prepping = requestTransition(idle, "Prep", false, T).conditions;
const prepped = completeStage(prepping, "Prep", T);
const upgrading = requestTransition(prepped, "Upgrade", false, T).conditions;

async function addCluster(
  name: string,
  labels: Record<string, string>,
  i?: Ibu,
  bootedStateroot?: string,
): Promise<void> {
  await api.create("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name },
  });
  await api.create("/apis/cluster.open-cluster-management.io/v1/managedclusters", {
    apiVersion: "cluster.open-cluster-management.io/v1",
    kind: "ManagedCluster",
    metadata: { name, labels },
    spec: { hubAcceptsClient: true },
  });
  if (!i) return;
  await api.create(reportPath(name, ""), {
    apiVersion: "ibu-gitops.dev/v1alpha1",
    kind: "ClusterUpgrade",
    metadata: { name: "upgrade", namespace: name },
    report: {
      clusterName: name,
      reportTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      stage: i.spec.stage,
      state: stageState(i),
      message: stageMessage(i),
      autoRolledBack: autoRolledBack(i),
      ibu: { spec: i.spec, status: i.status },
      ...(bootedStateroot ? { node: { bootedStateroot } } : {}),
    },
  });
}

describe("ibu-gitops status", () => {
  it("counts the fleet per stage, state and group, lists failed clusters, and keeps control characters off the terminal", async () => {
    const run = uniqueName("status");
    const labels = { "ibu-gitops.test/run": run };
    const name = (n: string): string => `${run}-${n}`;
    // a: Idle but never upgraded (its stateroot is the installed one): not done.
    await addCluster(name("a"), labels, ibu("Idle", idle), "rhcos");
    await addCluster(name("b"), labels, ibu("Prep", prepped));
    await addCluster(name("c"), labels, ibu("Upgrade", upgrading));
    await addCluster(
      name("d"),
      labels,
      ibu(
        "Upgrade",
        failStage(
          upgrading,
          "Upgrade",
          "Rollback due to restore failure: \u001b[31mred\u001b[0m",
          T,
        ),
      ),
    );
    await addCluster(name("e"), labels); // no report yet
    // f: finalized on the seed's version: the only one done.
    await addCluster(name("f"), labels, ibu("Idle", idle), "rhcos_4.18.1");
    await api.create("/apis/ran.openshift.io/v1alpha1/namespaces/default/clustergroupupgrades", {
      apiVersion: "ran.openshift.io/v1alpha1",
      kind: "ClusterGroupUpgrade",
      metadata: { name: run, labels: { "ibu-gitops.dev/group": `${run}-canary` } },
      spec: {
        clusters: [name("c"), name("d"), name("f")],
        remediationStrategy: { maxConcurrency: 2 },
      },
    });
    // TALM's batches, as it writes them into the CGU's status.
    await api.mergePatch(
      `/apis/ran.openshift.io/v1alpha1/namespaces/default/clustergroupupgrades/${run}/status`,
      {
        status: {
          remediationPlan: [[name("c"), name("d")], [name("f")]],
          status: { currentBatch: 1 },
        },
      },
    );
    const args = {
      kubeconfig: hub.info.kubeconfig,
      output: "json",
      stuckAfter: "30m",
      clusterSelector: `ibu-gitops.test/run=${run}`,
    };
    let json = "";
    expect(await runStatus(args, s => (json += s), false)).toBe(0);
    const { summary } = JSON.parse(json) as {
      summary: {
        total: number;
        reported: number;
        done: number;
        attention: { clusters: string[] };
        byStageState: Record<string, Record<string, number>>;
        byGroup: Record<
          string,
          {
            total: number;
            done: number;
            byState: Record<string, number>;
            batches: Record<string, { total: number; done: number; failed: number }>;
          }
        >;
        failed: { clusters: string[] };
        autoRolledBack: { clusters: string[] };
      };
    };
    expect(summary.total).toBe(6);
    expect(summary.reported).toBe(5);
    expect(summary.done).toBe(1);
    expect(summary.byStageState).toEqual({
      Idle: { Idle: 2 },
      Prep: { Completed: 1 },
      Upgrade: { InProgress: 1, Failed: 1 },
      Unknown: { NoReport: 1 },
    });
    expect(summary.byGroup[`${run}-canary`]).toMatchObject({
      total: 3,
      done: 1,
      byState: { InProgress: 1, Failed: 1, Idle: 1 },
      batches: { "1": { total: 2, done: 0, failed: 1 }, "2": { total: 1, done: 1, failed: 0 } },
    });
    expect(summary.attention.clusters).toEqual([name("c"), name("d")]);
    expect(summary.failed.clusters).toEqual([name("d")]);
    expect(summary.autoRolledBack.clusters).toEqual([name("d")]);

    let text = "";
    await runStatus({ ...args, output: "table" }, s => (text += s), true);
    expect(text).toMatch(
      /^6 clusters, 5 reporting, 1 done \(on the target version, finalized\), 0 with auto-import disabled\n/,
    );
    // columns: the states present (IDLE INPROGRESS COMPLETED FAILED NOREPORT), then TOTAL
    expect(text).toMatch(/\nUpgrade +0 +1 +0 +1 +0 +2\n/);
    // the group, its versions (now → target) and a bar per group and per batch
    expect(text).toMatch(
      new RegExp(
        `\\n${run}-canary +3 +Idle 1, Upgrade 2 +unknown ×2, 4\\.18\\.1 → 4\\.18\\.1 ×3 +\\[`,
      ),
    );
    const bar = (d: number, f: number): string =>
      `[${"#".repeat(d)}${"x".repeat(f)}${".".repeat(30 - d - f)}]`;
    expect(text).toContain(`${bar(10, 10)} 1/3 done, 1 failed`);
    expect(text).toMatch(new RegExp(`\\n +1 \\(current\\) +2 +\\${bar(0, 15)} 0/2 done, 1 failed`));
    expect(text).toMatch(new RegExp(`\\n +2 +1 +\\${bar(30, 0)} 1/1 done, 0 failed`));
    // the clusters that need attention, by name, with why, and no control characters
    expect(text).toContain("Needs attention (2):");
    expect(text).toMatch(new RegExp(`\\n  ${name("c")} +Upgrade InProgress +stuck +In progress`));
    expect(text).toMatch(
      new RegExp(
        `\\n  ${name("d")} +Upgrade Failed +failed, rolled back automatically +Rollback due to restore failure: \\?\\[31mred\\?\\[0m`,
      ),
    );
    expect(text).not.toContain("\u001b");
    let yaml = "";
    await runStatus({ ...args, output: "yaml" }, s => (yaml += s), false);
    expect(yaml).toMatch(/^summary:\n {2}total: 6\n/);
    // --watch: reads again every --interval, prints a state once, stops with the signal.
    const stop = new AbortController();
    const shown: string[] = [];
    const watched = await runStatus(
      // The table has no ages in it: unchanged between reads, so printed once.
      { ...args, output: "table", watch: true, interval: "50ms", signal: stop.signal },
      s => {
        shown.push(s);
        setTimeout(() => stop.abort(), 300); // several reads of an unchanged fleet first
      },
      false,
    );
    expect(watched).toBe(0);
    expect(shown).toHaveLength(1);
    expect(shown[0]).toMatch(/^6 clusters, 5 reporting, 1 done/);
    await expect(runStatus({ ...args, output: "xml" }, () => undefined)).rejects.toThrow(
      /--output must be table, json, yaml/,
    );
  });
});
