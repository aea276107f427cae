// Agent → hub reporting on real parts: a sandboxed spoke goes Prep → Upgrade (pivot and reboot)
// → finalize while its agent writes the ClusterUpgrade report and its ManagedClusterAddOn
// condition on a real hub apiserver, with only the RBAC the generator emits on either side;
// the hub's apiserver is stopped in the middle and the reports catch up once it is back.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IBU_PATH } from "../../addon/agent/controller.js";
import type { Ibu } from "../../addon/agent/ibu-types.js";
import { KubeApi, type KubeObject } from "../../addon/shared/kube.js";
import { parseAllDocuments } from "yaml";
import { loadFleet } from "../../src/fleet/load.js";
import { synthFleet } from "../../src/synth.js";
import { serviceAccountCredentials } from "../../src/sandbox/cluster.js";
import { ADDON_CONDITION, reportPath, type ClusterUpgrade } from "../../addon/shared/report.js";
import { ControlPlane } from "../support/controlplane.js";
import { loadOwnCrds, loadThirdPartyCrds } from "../support/crds.js";
import { TestRegistry } from "../support/registry.js";
import { SandboxNode } from "../support/sandbox-node.js";
import { publishSeed } from "../support/seed-fixture.js";
import { makeSysroot, type TestSysroot } from "../support/sysroot.js";

const IBU = `${IBU_PATH}/upgrade`;
const REPO = join(import.meta.dirname, "..", "..");
const CLUSTER = "sno-report";
const MCA = `/apis/addon.open-cluster-management.io/v1alpha1/namespaces/${CLUSTER}/managedclusteraddons/ibu-gitops`;

describe("the agent reports to the hub", () => {
  let cp: ControlPlane;
  let registry: TestRegistry;
  let seedCluster: TestSysroot;
  let spoke: TestSysroot;
  let sandbox: SandboxNode;
  let spokeApi: KubeApi;
  let hubApi: KubeApi;
  let storeRoot: string;
  let seed: string;
  const log = process.env.IBU_GITOPS_TEST_LOG
    ? (l: string): void => console.error(`[agent] ${l}`)
    : undefined;

  beforeAll(async () => {
    [cp, registry, seedCluster, spoke] = await Promise.all([
      ControlPlane.start({ clusters: ["hub", "sno"] }),
      TestRegistry.start(),
      makeSysroot("4.18.1", { hostname: "seed" }),
      makeSysroot("4.17.0", { hostname: CLUSTER }),
    ]);
    const third = await loadThirdPartyCrds();
    const own = loadOwnCrds();
    await Promise.all([
      cp.cluster("hub").installCrdSet([...third, ...own], "hub"),
      cp.cluster("sno").installCrdSet([...third, ...own], "spoke"),
    ]);
    ({ seed } = await publishSeed(registry, seedCluster, {
      version: "4.18.1",
      imageNames: ["release", "operator"],
    }));
    spokeApi = new KubeApi(cp.cluster("sno").kubeConfig());
    hubApi = new KubeApi(cp.cluster("hub").kubeConfig());
    // The cluster namespace and the ManagedClusterAddOn, as OCM has them, with OCM's own condition.
    await hubApi.create("/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: CLUSTER },
    });
    const mca = await hubApi.create<{ metadata: object }>(
      `/apis/addon.open-cluster-management.io/v1alpha1/namespaces/${CLUSTER}/managedclusteraddons`,
      {
        apiVersion: "addon.open-cluster-management.io/v1alpha1",
        kind: "ManagedClusterAddOn",
        metadata: { name: "ibu-gitops", namespace: CLUSTER },
        spec: {},
      },
    );
    await hubApi.replace(`${MCA}/status`, {
      ...mca,
      status: {
        conditions: [
          {
            type: "Available",
            status: "True",
            reason: "WorkloadAvailable",
            message: "the agent Deployment is available",
            lastTransitionTime: "2026-11-26T00:00:00Z",
          },
        ],
      },
    });
    // The agent runs with exactly the RBAC the generator emits: on the spoke the AddOnTemplate's
    // manifests (as OCM's work agent applies them) and a token of its ServiceAccount; on the
    // hub the generated ClusterRole ibu-gitops-agent-hub, bound in the cluster's namespace as
    // OCM's addon-manager binds it for CurrentCluster (that binding is the one stand-in: it names
    // a ServiceAccount here instead of OCM's certificate identity).
    const out = synthFleet(loadFleet(join(REPO, "examples", "fleet.yaml")));
    const docs = (file: string): Array<Record<string, any>> =>
      parseAllDocuments(out.get(file)!).map(d => d.toJS() as Record<string, any>);
    const template = docs("addon/addon.yaml").find(o => o.kind === "AddOnTemplate")!;
    for (const m of template.spec.agentSpec.workload.manifests as KubeObject[])
      if (m.kind !== "Deployment") await spokeApi.apply(m);
    const hubRole = docs("addon/rbac.yaml").find(
      o => o.kind === "ClusterRole" && o.metadata.name === "ibu-gitops-agent-hub",
    )!;
    await hubApi.apply(hubRole as KubeObject);
    await hubApi.apply({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "ibu-gitops-agent", namespace: CLUSTER },
    });
    await hubApi.apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "open-cluster-management:ibu-gitops:agent", namespace: CLUSTER },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "ibu-gitops-agent-hub",
      },
      subjects: [{ kind: "ServiceAccount", name: "ibu-gitops-agent", namespace: CLUSTER }],
    });
    const agentOnSpoke = new KubeApi(
      await serviceAccountCredentials(
        cp.cluster("sno"),
        "open-cluster-management-agent-addon",
        "ibu-gitops-agent",
      ),
    );
    const agentOnHub = new KubeApi(
      await serviceAccountCredentials(cp.cluster("hub"), CLUSTER, "ibu-gitops-agent"),
    );
    // Least privilege, both ways: the agent may not read the hub's other namespaces.
    expect((await agentOnHub.request("GET", "/api/v1/namespaces/default/configmaps")).status).toBe(
      403,
    );
    storeRoot = mkdtempSync(join(tmpdir(), "ibu-store-"));
    sandbox = new SandboxNode(spoke, agentOnSpoke, {
      insecureRegistries: [registry.host],
      imageStoreRoot: storeRoot,
      log,
      hub: { api: agentOnHub, clusterName: CLUSTER },
    });
    sandbox.start();
  }, 180_000);

  afterAll(async () => {
    await sandbox?.stop();
    await Promise.all([cp?.stop(), registry?.stop(), seedCluster?.remove(), spoke?.remove()]);
    if (storeRoot) rmSync(storeRoot, { recursive: true, force: true });
  });

  async function report(
    what: string,
    pred: (r: NonNullable<ClusterUpgrade["report"]>) => boolean,
    timeoutMs = 60_000,
  ): Promise<NonNullable<ClusterUpgrade["report"]>> {
    const deadline = Date.now() + timeoutMs;
    let last: ClusterUpgrade | undefined;
    while (Date.now() < deadline) {
      last = await hubApi.get<ClusterUpgrade>(reportPath(CLUSTER)).catch(() => undefined);
      if (last?.report && pred(last.report)) return last.report;
      await new Promise(r => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}; last report: ${JSON.stringify(last?.report)}`);
  }

  async function setStage(stage: string, extra: object = {}): Promise<void> {
    const current = (await spokeApi.get<Ibu>(IBU))!;
    await spokeApi.replace(IBU, { ...current, spec: { ...current.spec, stage, ...extra } });
  }

  const addonConditions = async (): Promise<Array<Record<string, string>>> =>
    (await hubApi.get<{ status: { conditions: Array<Record<string, string>> } }>(MCA))!.status
      .conditions;

  it("reports every stage, node facts and the auto-import intent, through a pivot", async () => {
    const idle = await report("Idle", r => r.state === "Idle");
    expect(idle).toMatchObject({
      clusterName: CLUSTER,
      stage: "Idle",
      autoImport: { intent: "Enable", reason: "Idle" },
      node: { bootedStateroot: "rhcos_4.17.0", stateroots: ["rhcos_4.17.0"] },
    });
    expect(idle.ibu?.status?.validNextStages).toEqual(["Prep"]);

    await setStage("Prep", { seedImageRef: { image: seed, version: "4.18.1" } });
    const prepped = await report(
      "Prep completed",
      r => r.stage === "Prep" && r.state === "Completed",
    );
    expect(prepped.sequence!).toBeGreaterThan(idle.sequence!);
    expect(prepped.node?.stateroots?.sort()).toEqual(["rhcos_4.17.0", "rhcos_4.18.1"]);
    expect(prepped.node?.precache).toEqual({ total: 2, pulled: 2, failed: 0 });
    expect(prepped.autoImport?.intent).toBe("Keep");
    expect(prepped.message).toBe("Prep stage completed successfully");

    // Our condition on the ManagedClusterAddOn, next to OCM's, which stays as it was.
    const conditions = await addonConditions();
    expect(conditions.find(c => c.type === "Available")?.message).toBe(
      "the agent Deployment is available",
    );
    expect(conditions.find(c => c.type === ADDON_CONDITION)).toMatchObject({
      status: "True",
      reason: "PrepCompleted",
    });

    await setStage("Upgrade");
    const upgraded = await report(
      "Upgrade completed",
      r => r.stage === "Upgrade" && r.state === "Completed",
    );
    expect(upgraded.node?.bootedStateroot).toBe("rhcos_4.18.1");
    expect(upgraded.autoImport?.intent).toBe("Enable");
    expect(upgraded.ibu?.status?.history?.map(h => h.stage)).toEqual(["Prep", "Upgrade"]);
  });

  it("catches up after the hub's apiserver was down", async () => {
    await cp.stopCluster("hub");
    await setStage("Idle"); // finalize while the hub cannot be reached
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const i = await spokeApi.get<Ibu>(IBU);
      if (i?.status?.conditions?.some(c => c.type === "Idle" && c.status === "True")) break;
      await new Promise(r => setTimeout(r, 100));
    }
    await cp.restartCluster("hub");
    const idle = await report("Idle after finalize", r => r.stage === "Idle" && r.state === "Idle");
    expect(idle.node?.stateroots).toEqual(["rhcos_4.18.1"]);
    expect(idle.ibu?.status?.conditions).toHaveLength(1);
    // The addon's condition is a second write after the report: wait for it rather than race it.
    const until = Date.now() + 30_000;
    let reason: string | undefined;
    for (;;) {
      reason = (await addonConditions()).find(c => c.type === ADDON_CONDITION)?.reason;
      if (reason === "IdleIdle" || Date.now() > until) break;
      await new Promise(r => setTimeout(r, 200));
    }
    expect(reason).toBe("IdleIdle");
  });
});
