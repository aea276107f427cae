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

async function addCluster(name: string, labels: Record<string, string>, i?: Ibu): Promise<void> {
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
    },
  });
}

describe("ibu-gitops status", () => {
  it("counts the fleet per stage, state and group, lists failed clusters, and keeps control characters off the terminal", async () => {
    const run = uniqueName("status");
    const labels = { "ibu-gitops.test/run": run };
    const name = (n: string): string => `${run}-${n}`;
    await addCluster(name("a"), labels, ibu("Idle", idle));
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
    await api.create("/apis/ran.openshift.io/v1alpha1/namespaces/default/clustergroupupgrades", {
      apiVersion: "ran.openshift.io/v1alpha1",
      kind: "ClusterGroupUpgrade",
      metadata: { name: run, labels: { "ibu-gitops.dev/group": `${run}-canary` } },
      spec: { clusters: [name("c"), name("d")], remediationStrategy: { maxConcurrency: 2 } },
    });
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
        byStageState: Record<string, Record<string, number>>;
        byGroup: Record<string, { total: number; byState: Record<string, number> }>;
        failed: { clusters: string[] };
        autoRolledBack: { clusters: string[] };
      };
    };
    expect(summary.total).toBe(5);
    expect(summary.reported).toBe(4);
    expect(summary.byStageState).toEqual({
      Idle: { Idle: 1 },
      Prep: { Completed: 1 },
      Upgrade: { InProgress: 1, Failed: 1 },
      Unknown: { NoReport: 1 },
    });
    expect(summary.byGroup[`${run}-canary`]).toMatchObject({
      total: 2,
      byState: { InProgress: 1, Failed: 1 },
    });
    expect(summary.failed.clusters).toEqual([name("d")]);
    expect(summary.autoRolledBack.clusters).toEqual([name("d")]);

    let text = "";
    await runStatus({ ...args, output: "table" }, s => (text += s), true);
    expect(text).toMatch(/^5 clusters, 4 reporting, 0 with auto-import disabled\n/);
    // columns: the states present (IDLE INPROGRESS COMPLETED FAILED NOREPORT), then TOTAL
    expect(text).toMatch(/\nUpgrade +0 +1 +0 +1 +0 +2\n/);
    expect(text).toContain(`${run}-canary  2 `);
    expect(text).toContain(`[${"x".repeat(15)}${".".repeat(15)}] 0/2 done, 1 failed`);
    expect(text).toContain(
      `Failed (1):\n  ${name("d")}  Upgrade Failed: Rollback due to restore failure: ?[31mred?[0m`,
    );
    // c has been in progress since 10:00 without news: stuck after 30 minutes.
    expect(text).toContain(`Stuck (1):\n  ${name("c")}  Upgrade InProgress: In progress`);
    expect(text).not.toContain("\u001b");
    await expect(runStatus({ ...args, output: "yaml" }, () => undefined)).rejects.toThrow(
      /--output must be table or json/,
    );
  });
});
