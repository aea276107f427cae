// `ibu-gitops plan --kubeconfig`: group selectors resolve to the hub's ManagedClusters
// (read-only), and batches follow TALM's rule (each canary alone, then maxConcurrency).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KubeApi } from "../../addon/shared/kube.js";
import { loadKubeconfig } from "../../addon/shared/kubeconfig.js";
import { scratchDir } from "../support/scratch.js";
import { runPlan, type PlanFleet, type PlanGroup } from "../../src/cli/plan.js";
import { statusMessage } from "../support/cluster.js";
import { sharedCluster, uniqueName } from "../support/shared.js";

const hub = sharedCluster("hub");

describe("plan against a hub", () => {
  it("lists today's clusters for each group's selector, in batches", async () => {
    const wave = uniqueName("wave");
    const names = [1, 2, 3, 4, 5].map(i => `${wave}-sno-${i}`);
    for (const [i, name] of names.entries()) {
      const labels = i < 4 ? { "ibu-wave": wave } : { "ibu-wave": "elsewhere" };
      const res = await hub.request(
        "POST",
        "/apis/cluster.open-cluster-management.io/v1/managedclusters",
        {
          apiVersion: "cluster.open-cluster-management.io/v1",
          kind: "ManagedCluster",
          metadata: { name, labels },
          spec: { hubAcceptsClient: true },
        },
      );
      expect(res.status, statusMessage(res)).toBe(201);
    }
    const dir = scratchDir("ibu-plan");
    const fleetFile = join(dir, "fleet.yaml");
    writeFileSync(
      fleetFile,
      `apiVersion: ibu-gitops.dev/v1alpha1
kind: Fleet
metadata: {name: plan-test}
spec:
  seedImage: {image: r.example.com/seed:4.18.1, version: 4.18.1}
  rollout:
    upgrade: {maxConcurrency: 2, timeout: 30}
  groups:
    - name: canary
      clusters: [${names[4]}]
      stage: Prep
    - name: wave
      selector: {matchLabels: {ibu-wave: ${wave}}}
      stage: Upgrade
`,
    );
    let out = "";
    const user = await hub.mintUser(uniqueName("planner"));
    // The planner only needs to list ManagedClusters: grant exactly that.
    const role = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: user.user },
      rules: [
        {
          apiGroups: ["cluster.open-cluster-management.io"],
          resources: ["managedclusters"],
          verbs: ["list"],
        },
      ],
    };
    const binding = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: user.user },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: user.user },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user.user }],
    };
    expect(
      (await hub.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", role)).status,
    ).toBe(201);
    expect(
      (await hub.request("POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", binding))
        .status,
    ).toBe(201);

    let groups: PlanGroup[] = [];
    for (let i = 0; i < 50; i++) {
      try {
        out = "";
        await runPlan(
          { files: [fleetFile], output: "json", kubeconfig: user.kubeconfig },
          s => (out += s),
        );
        groups = (JSON.parse(out) as PlanFleet[]).flatMap(f => f.groups);
        break;
      } catch {
        await new Promise(r => setTimeout(r, 100)); // RBAC propagates to the authorizer
      }
    }
    const wavePlan = groups.find(g => g.group === "wave")!;
    expect(wavePlan.clusters).toEqual(names.slice(0, 4));
    // The CGUs' names are the generator's (names.ts: within TALM's length budget).
    const [prepName, upgradeName] = wavePlan.steps.map(s => s.object) as [string, string];
    expect(prepName).toMatch(/^wave-prep-/);
    const upgrade = wavePlan.steps[1]!;
    expect(upgrade.batches).toEqual([names.slice(0, 2), names.slice(2, 4)]);
    expect(upgrade.autoImport).toMatch(/^add before start/);
    expect(upgrade.batchesFrom).toBe("TALM's rule");
    // The planner may not list CGUs: the prep step counts as done from the commit order.
    expect(wavePlan.steps.map(s => s.state)).toEqual(["earlier commit", "pending"]);
    expect(wavePlan.windowMinutes).toBe(30);
    expect(groups.find(g => g.group === "canary")!.clusters).toEqual([names[4]]);

    // With a kubeconfig that may read CGUs, their status says what is complete and running.
    const admin = new KubeApi(loadKubeconfig(hub.info.kubeconfig));
    const cguPath = "/apis/ran.openshift.io/v1alpha1/namespaces/default/clustergroupupgrades";
    const cgu = async (name: string, status: object): Promise<void> => {
      const res = await hub.request("POST", cguPath, {
        apiVersion: "ran.openshift.io/v1alpha1",
        kind: "ClusterGroupUpgrade",
        metadata: { name, namespace: "default" },
        spec: { clusters: names.slice(0, 4), remediationStrategy: { maxConcurrency: 2 } },
      });
      expect(res.status, statusMessage(res)).toBe(201);
      await admin.mergePatch(`${cguPath}/${name}/status`, { status });
    };
    const T = "2026-11-29T10:00:00Z";
    const cond = (type: string, status: string) => ({
      type,
      status,
      reason: "Completed",
      message: "",
      lastTransitionTime: T,
    });
    await cgu(prepName, { conditions: [cond("Succeeded", "True")] });
    const hubPlan = [[names[3]!], names.slice(0, 3)];
    await cgu(upgradeName, {
      conditions: [cond("Progressing", "True")],
      remediationPlan: hubPlan,
      status: { currentBatch: 2 },
    });
    out = "";
    await runPlan(
      { files: [fleetFile], output: "json", kubeconfig: hub.info.kubeconfig },
      s => (out += s),
    );
    const live = (JSON.parse(out) as PlanFleet[])[0]!.groups.find(g => g.group === "wave")!;
    expect(live.steps.map(s => s.state)).toEqual(["complete", "running"]);
    expect(live.steps[1]).toMatchObject({
      batches: hubPlan,
      batchesFrom: "hub CGU status",
      currentBatch: 2,
    });
    let text = "";
    await runPlan(
      { files: [fleetFile], output: "table", kubeconfig: hub.info.kubeconfig },
      s => (text += s),
    );
    expect(text).toContain(`✔ complete (hub) ${prepName}`);
    expect(text).toMatch(
      new RegExp(
        `▶ running \\(hub\\) ${upgradeName} .* timeout 30 min \\(bounds\\s+the\\s+whole\\s+CGU\\)`,
      ),
    );
    expect(text).toContain("2 batches for 4 clusters, ≤2 per batch, now batch 2 (hub)");
    for (const line of text.split("\n")) expect(line.length).toBeLessThanOrEqual(100);
  });
});
