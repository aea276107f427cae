// LCA's health checks and Prep's validation of the IBU spec by server-side dry runs, on a real
// apiserver serving OpenShift's ClusterOperator, ClusterVersion and MachineConfigPool (from
// their upstream Go module) and Velero's kinds: an unhealthy cluster holds Prep and finalize
// with LCA's messages; the current version is ClusterVersion's; bad extra manifests and OADP
// content fail Prep; extra-manifest warnings only annotate the IBU, and a cancel removes the
// annotation.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { condition, IBU, waitForIbu } from "../support/ibu.js";
import { Annotation, type Ibu } from "../../addon/agent/ibu-types.js";
import { APPLY_WAVE } from "../../addon/agent/stages/oadp.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { ControlPlane } from "../support/controlplane.js";
import { loadOwnCrds, loadThirdPartyCrds } from "../support/crds.js";
import { publishSeed } from "../support/seed-fixture.js";
import { TestRegistry } from "../support/registry.js";
import { SandboxNode } from "../support/sandbox-node.js";
import { makeSysroot, type TestSysroot } from "../support/sysroot.js";

const CO = "/apis/config.openshift.io/v1/clusteroperators";
const MCP = "/apis/machineconfiguration.openshift.io/v1/machineconfigpools";
const CV = "/apis/config.openshift.io/v1/clusterversions/version";
const LCA_NS = "openshift-lifecycle-agent";

describe("the agent's health checks and Prep validation", () => {
  let cp: ControlPlane;
  let registry: TestRegistry;
  let seedCluster: TestSysroot;
  let spoke: TestSysroot;
  let sandbox: SandboxNode;
  let api: KubeApi;
  let seed: string;
  let storeRoot: string;
  /** Runs while the sandbox node is off for a reboot. */
  let whileOff: (() => Promise<void>) | undefined;
  const log = process.env.IBU_GITOPS_TEST_LOG
    ? (l: string): void => console.error(`[agent] ${l}`)
    : undefined;

  beforeAll(async () => {
    let thirdParty;
    [cp, registry, seedCluster, spoke, thirdParty] = await Promise.all([
      ControlPlane.start({ clusters: ["sno"] }),
      TestRegistry.start(),
      makeSysroot("4.18.1", { hostname: "seed" }),
      makeSysroot("4.17.0", { hostname: "sno-1" }),
      loadThirdPartyCrds(),
    ]);
    const wanted = [
      "clusteroperators",
      "clusterversions",
      "proxies",
      "machineconfigpools",
      "clusterserviceversions",
      "backups",
      "restores",
    ];
    const crds = thirdParty.filter(s => wanted.includes(s.crd.spec.names.plural));
    expect(crds).toHaveLength(wanted.length);
    await cp.cluster("sno").installCrds([...loadOwnCrds(), ...crds].map(s => s.crd));
    ({ seed } = await publishSeed(registry, seedCluster, {
      version: "4.18.1",
      imageNames: ["release"],
    }));
    api = new KubeApi(cp.cluster("sno").kubeConfig());
    for (const name of [LCA_NS, "openshift-adp"])
      await api.create("/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name },
      });
    await installOadpOperator();
    // The cluster is at 4.17.0, as the spoke's stateroot name says too.
    await api.create("/apis/config.openshift.io/v1/clusterversions", {
      apiVersion: "config.openshift.io/v1",
      kind: "ClusterVersion",
      metadata: { name: "version" },
      spec: { clusterID: "5a1b4e2c-0f3d-4c8e-9b7a-2d6f1e3c4b5a" },
    });
    await setClusterVersion("4.17.0", true);
    storeRoot = mkdtempSync(join(tmpdir(), "ibu-store-"));
    sandbox = new SandboxNode(spoke, api, {
      insecureRegistries: [registry.host],
      imageStoreRoot: storeRoot,
      log,
      whileOff: () => whileOff?.(),
    });
    sandbox.start();
    await waitFor("Idle", i => cond(i, "Idle") === "True/Idle/Idle");
  }, 180_000);

  afterAll(async () => {
    await sandbox?.stop();
    await Promise.all([cp?.stop(), registry?.stop(), seedCluster?.remove(), spoke?.remove()]);
    if (storeRoot) rmSync(storeRoot, { recursive: true, force: true });
  });

  const cond = condition;

  const waitFor = (what: string, pred: (i: Ibu) => boolean, timeoutMs = 30_000): Promise<Ibu> =>
    waitForIbu(api, what, pred, timeoutMs);

  async function setStage(stage: string, extra: object = {}): Promise<void> {
    const current = (await api.get<Ibu>(IBU))!;
    await api.replace(IBU, { ...current, spec: { ...current.spec, stage, ...extra } });
  }

  /** Prep with `extra` spec fields (replacing the manifests of an earlier test). */
  const prep = (extra: object = {}): Promise<void> =>
    setStage("Prep", {
      seedImageRef: { image: seed, version: "4.18.1" },
      oadpContent: undefined,
      extraManifests: undefined,
      ...extra,
    });

  const OADP_CSV =
    "/apis/operators.coreos.com/v1alpha1/namespaces/openshift-adp/clusterserviceversions";

  /** The OADP operator's CSV, Succeeded (as OLM leaves it), which Prep looks for. */
  async function installOadpOperator(): Promise<void> {
    await api.create(OADP_CSV, {
      apiVersion: "operators.coreos.com/v1alpha1",
      kind: "ClusterServiceVersion",
      metadata: { name: "oadp-operator.v1.4.0", namespace: "openshift-adp" },
      spec: { displayName: "OADP Operator", install: { strategy: "deployment" } },
    });
    await setStatus(`${OADP_CSV}/oadp-operator.v1.4.0`, { phase: "Succeeded" });
  }

  async function cancel(): Promise<Ibu> {
    await setStage("Idle");
    return waitFor("Idle after cancel", i => cond(i, "Idle") === "True/Idle/Idle");
  }

  /** Writes an object's status through its status subresource. */
  async function setStatus(path: string, status: object): Promise<void> {
    const current = (await api.get<object>(path))!;
    await api.replace(`${path}/status`, { ...current, status });
  }

  /** A Velero Backup of `namespace` and its Restore (which names `backupName`), in openshift-adp. */
  const pair = (
    name: string,
    namespace: string,
    opts: { backupName?: string; annotations?: Record<string, string> } = {},
  ): object[] => [
    {
      apiVersion: "velero.io/v1",
      kind: "Backup",
      metadata: {
        name,
        namespace: "openshift-adp",
        ...(opts.annotations ? { annotations: opts.annotations } : {}),
      },
      spec: { includedNamespaces: [namespace] },
    },
    {
      apiVersion: "velero.io/v1",
      kind: "Restore",
      metadata: { name, namespace: "openshift-adp" },
      spec: { backupName: opts.backupName ?? name },
    },
  ];

  async function configMap(name: string, ns: string, docs: object[]): Promise<void> {
    await api.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name, namespace: ns },
      data: { "manifests.yaml": docs.map(d => stringify(d)).join("---\n") },
    });
  }

  /** ClusterVersion `version`'s status: its desired version, and whether it is Available. */
  async function setClusterVersion(desired: string, available: boolean): Promise<void> {
    await setStatus(CV, {
      desired: { version: desired, image: `quay.io/openshift-release-dev/ocp-release:${desired}` },
      availableUpdates: null,
      observedGeneration: 1,
      versionHash: "test",
      conditions: [
        {
          type: "Available",
          status: available ? "True" : "False",
          lastTransitionTime: new Date().toISOString(),
        },
      ],
    });
  }

  const coStatus = (degraded: boolean): object => ({
    conditions: [
      { type: "Available", status: "True", lastTransitionTime: new Date().toISOString() },
      { type: "Progressing", status: "False", lastTransitionTime: new Date().toISOString() },
      {
        type: "Degraded",
        status: degraded ? "True" : "False",
        lastTransitionTime: new Date().toISOString(),
      },
    ],
  });

  it("holds Prep, InProgress with LCA's message, while a ClusterOperator is degraded and a MachineConfigPool not ready; then preps", async () => {
    await api.create(CO, {
      apiVersion: "config.openshift.io/v1",
      kind: "ClusterOperator",
      metadata: { name: "authentication" },
      spec: {},
    });
    await setStatus(`${CO}/authentication`, coStatus(true));
    await api.create(MCP, {
      apiVersion: "machineconfiguration.openshift.io/v1",
      kind: "MachineConfigPool",
      metadata: { name: "master" },
      spec: {},
    });
    await setStatus(`${MCP}/master`, {
      machineCount: 1,
      readyMachineCount: 0,
      updatedMachineCount: 0,
      unavailableMachineCount: 1,
      degradedMachineCount: 0,
    });

    await prep();
    const message =
      "Waiting for system to stabilize before Prep stage can continue: one or more health checks failed: " +
      "one or more ClusterOperators not yet ready: authentication\n" +
      "  - one or more MachineConfigPools not yet ready: master";
    await waitFor("Prep held", i => cond(i, "PrepInProgress") === `True/InProgress/${message}`);
    // It stays held: no stage work, no completion.
    await new Promise(r => setTimeout(r, 3000));
    const held = (await api.get<Ibu>(IBU))!;
    expect(cond(held, "PrepInProgress")).toBe(`True/InProgress/${message}`);
    expect(cond(held, "PrepCompleted")).toBeUndefined();
    expect(spoke.ostree.stateroots()).toEqual(["rhcos_4.17.0"]);

    await setStatus(`${CO}/authentication`, coStatus(false));
    await setStatus(`${MCP}/master`, {
      machineCount: 1,
      readyMachineCount: 1,
      updatedMachineCount: 1,
      unavailableMachineCount: 0,
      degradedMachineCount: 0,
    });
    const done = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
    expect(cond(done, "PrepCompleted")).toBe("True/Completed/Prep stage completed successfully");
    await cancel();
  });

  it("holds Prep while ClusterVersion is not Available; then fails it on ClusterVersion's desired version, which the stateroot's name would allow (LCA's messages)", async () => {
    await setClusterVersion("4.18.1", false);
    try {
      await prep();
      const message =
        "Waiting for system to stabilize before Prep stage can continue: one or more health checks failed: " +
        "clusterVersion version not ready";
      await waitFor("Prep held", i => cond(i, "PrepInProgress") === `True/InProgress/${message}`);
      expect(spoke.ostree.stateroots()).toEqual(["rhcos_4.17.0"]);

      await setClusterVersion("4.18.1", true);
      const failed = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
      expect(cond(failed, "PrepCompleted")).toBe("False/Failed/Prep failed");
      expect(cond(failed, "PrepInProgress")).toBe(
        "False/Failed/failed to validate IBU spec: seed OCP version (4.18.1) must be higher than current OCP version (4.18.1)",
      );
      expect(spoke.ostree.stateroots()).toEqual(["rhcos_4.17.0"]);
      await cancel();
    } finally {
      await setClusterVersion("4.17.0", true);
    }
  });

  it("fails Prep when the cluster has a proxy and the seed has none (LCA's compatibility check)", async () => {
    const proxies = "/apis/config.openshift.io/v1/proxies";
    await api.create(proxies, {
      apiVersion: "config.openshift.io/v1",
      kind: "Proxy",
      metadata: { name: "cluster" },
      spec: { httpProxy: "http://proxy.example.com:3128" },
    });
    try {
      await prep();
      const failed = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
      expect(cond(failed, "PrepInProgress")).toBe(
        "False/Failed/failed to validate seed image info: checking seed image compatibility: seed image does not have a proxy but the cluster being upgraded does, this combination is not supported",
      );
      expect(spoke.ostree.stateroots()).toEqual(["rhcos_4.17.0"]);
      await cancel();
    } finally {
      await api.delete(`${proxies}/cluster`);
    }
  });

  it("fails Prep when the extra manifests hold a Subscription (LCA's error)", async () => {
    await configMap("em-subscription", LCA_NS, [
      {
        apiVersion: "operators.coreos.com/v1alpha1",
        kind: "Subscription",
        metadata: { name: "sriov", namespace: "openshift-sriov-network-operator" },
        spec: { name: "sriov-network-operator" },
      },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "fine", namespace: "default" } },
    ]);
    await prep({ extraManifests: [{ name: "em-subscription", namespace: LCA_NS }] });
    const failed = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
    expect(cond(failed, "PrepCompleted")).toBe("False/Failed/Prep failed");
    expect(cond(failed, "PrepInProgress")).toBe(
      "False/Failed/failed to validate IBU spec: failed to validate extramanifest cms: Subscription[sriov] in extramanifests is not allowed",
    );
    await cancel();
  });

  it("fails Prep when an extra manifest's apply-wave is not an integer to Go's Atoi (LCA's error)", async () => {
    await configMap("em-bad-wave", LCA_NS, [
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "w", namespace: "default", annotations: { [APPLY_WAVE]: "three" } },
      },
    ]);
    await prep({ extraManifests: [{ name: "em-bad-wave", namespace: LCA_NS }] });
    const failed = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
    expect(cond(failed, "PrepInProgress")).toBe(
      'False/Failed/failed to validate IBU spec: failed to validate extramanifest cms: failed to sort and group manifests: error convert: strconv.Atoi: parsing "three": invalid syntax',
    );
    await cancel();
  });

  it("preps with warnings for an unknown kind and a missing namespace, in LCA's annotation; a cancel removes it", async () => {
    await configMap("em-warnings", LCA_NS, [
      {
        apiVersion: "example.com/v1",
        kind: "Widget",
        metadata: { name: "w", namespace: "default" },
      },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "nowhere" } },
      // A namespace the content itself creates in an earlier wave is no warning: it is made
      // for the dry run.
      {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: "made-here", annotations: { "lca.openshift.io/apply-wave": "1" } },
      },
      { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "d", namespace: "made-here" } },
    ]);
    await prep({ extraManifests: [{ name: "em-warnings", namespace: LCA_NS }] });
    const done = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
    expect(cond(done, "PrepCompleted")).toBe(
      "True/Completed/Prep stage completed with extramanifests validation warning. Please check the annotation 'extra-manifest.lca.openshift.io/validation-warning' for details.",
    );
    expect(done.metadata.annotations?.[Annotation.extraManifestWarning]).toBe(
      "ConfigMap[c] - namespace nowhere not found on cluster or not added in configmap in right order; " +
        "Widget[w] - CRD not deployed on cluster",
    );
    // The dry runs stored nothing, and the namespace made for them is deleted again (it stays
    // Terminating here: the test apiserver runs no namespace controller).
    expect(await api.get("/api/v1/namespaces/default/configmaps/d")).toBeUndefined();
    const madeHere = await api.get<{ metadata: { deletionTimestamp?: string } }>(
      "/api/v1/namespaces/made-here",
    );
    expect(madeHere === undefined || madeHere.metadata.deletionTimestamp !== undefined).toBe(true);

    const idle = await cancel();
    expect(idle.metadata.annotations?.[Annotation.extraManifestWarning]).toBeUndefined();
  });

  it("fails Prep when a Restore's backupName names no Backup of the OADP content (LCA's error)", async () => {
    await configMap("oadp-orphan", "openshift-adp", pair("apps", "apps", { backupName: "nope" }));
    await prep({ oadpContent: [{ name: "oadp-orphan", namespace: "openshift-adp" }] });
    const failed = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
    expect(cond(failed, "PrepInProgress")).toBe(
      "False/Failed/failed to validate IBU spec: failed to validate oadp configMap: The backup CR nope defined in restore CR apps not found in OADP configmaps",
    );
    // The dry runs stored nothing.
    expect(
      await api.get("/apis/velero.io/v1/namespaces/openshift-adp/backups/apps"),
    ).toBeUndefined();
    await cancel();
  });

  it("fails Prep with OADP content when the OADP operator is not installed (LCA's message)", async () => {
    await api.delete(`${OADP_CSV}/oadp-operator.v1.4.0`);
    try {
      await configMap("oadp-ok", "openshift-adp", pair("apps", "apps"));
      await prep({ oadpContent: [{ name: "oadp-ok", namespace: "openshift-adp" }] });
      const failed = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
      expect(cond(failed, "PrepInProgress")).toBe(
        "False/Failed/failed to validate IBU spec: failed to validate oadp configMap: Please ensure OADP operator is installed in the openshift-adp",
      );
      await cancel();
    } finally {
      await installOadpOperator();
    }
  });

  it("fails Prep when a Backup's or a Restore's apply-wave is not an integer to Go's Atoi (where LCA stalls the Upgrade)", async () => {
    const [backup, restore] = pair("apps", "apps") as Array<{ metadata: object }>;
    const waved = (o: { metadata: object }, wave: string): object => ({
      ...o,
      metadata: { ...o.metadata, annotations: { [APPLY_WAVE]: wave } },
    });
    await configMap("oadp-bad-wave", "openshift-adp", [waved(backup!, "0x10"), restore!]);
    await prep({ oadpContent: [{ name: "oadp-bad-wave", namespace: "openshift-adp" }] });
    let failed = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
    expect(cond(failed, "PrepInProgress")).toBe(
      'False/Failed/failed to validate IBU spec: failed to validate oadp configMap: error while getting sorted backups from configmap: error convert: strconv.Atoi: parsing "0x10": invalid syntax',
    );
    await cancel();
    await configMap("oadp-bad-wave", "openshift-adp", [backup!, waved(restore!, " 2 ")]);
    await prep({ oadpContent: [{ name: "oadp-bad-wave", namespace: "openshift-adp" }] });
    failed = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
    expect(cond(failed, "PrepInProgress")).toBe(
      'False/Failed/failed to validate IBU spec: failed to validate oadp configMap: failed to sort restore CRs: error convert: strconv.Atoi: parsing " 2 ": invalid syntax',
    );
    await cancel();
  });

  it("fails Prep when a Backup's apply-label names an object the cluster does not have", async () => {
    await configMap(
      "oadp-apply-label",
      "openshift-adp",
      pair("klusterlet", "open-cluster-management-agent", {
        annotations: {
          "lca.openshift.io/apply-label": "v1/secrets/open-cluster-management-agent/gone",
        },
      }),
    );
    await prep({ oadpContent: [{ name: "oadp-apply-label", namespace: "openshift-adp" }] });
    const failed = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
    expect(cond(failed, "PrepInProgress")).toMatch(
      /^False\/Failed\/failed to validate IBU spec: failed to validate oadp configMap: backup klusterlet: cannot label v1\/secrets\/open-cluster-management-agent\/gone \(lca.openshift.io\/apply-label\): .*not found/,
    );
    await cancel();
  });

  it("holds the pre-pivot on a degraded ClusterOperator, the end of the post-pivot and finalize on a Node not Ready, with LCA's messages", async () => {
    await prep();
    await waitFor("PrepCompleted", i => cond(i, "PrepCompleted")?.startsWith("True/") ?? false);

    await setStatus(`${CO}/authentication`, coStatus(true));
    await setStage("Upgrade");
    await waitFor(
      "pre-pivot held",
      i =>
        cond(i, "UpgradeInProgress") ===
        "True/InProgress/Waiting for system to stabilize before Upgrade (pre-pivot) stage can continue: " +
          "one or more health checks failed: one or more ClusterOperators not yet ready: authentication",
    );
    expect(sandbox.reboots).toBe(0);

    // While the node is off for the pivot, its Node object turns NotReady (no kubelet here).
    const nodeStatus = (ready: boolean): object => ({
      conditions: [
        {
          type: "Ready",
          status: ready ? "True" : "False",
          reason: ready ? "KubeletReady" : "KubeletNotReady",
          message: "set by the test",
          lastHeartbeatTime: new Date().toISOString(),
          lastTransitionTime: new Date().toISOString(),
        },
      ],
    });
    whileOff = async () => {
      await api.create("/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: "sno-1" },
      });
      await setStatus("/api/v1/nodes/sno-1", nodeStatus(false));
    };
    await setStatus(`${CO}/authentication`, coStatus(false));
    // After the pivot the mandatory checks pass; the deferred ones hold the end of the stage.
    const held = await waitFor(
      "post-pivot held",
      i =>
        cond(i, "UpgradeInProgress") ===
        "True/InProgress/Waiting for system to fully stabilize: one or more health checks failed: node is not yet ready: sno-1",
      60_000,
    );
    expect(sandbox.reboots).toBe(1);
    expect(cond(held, "UpgradeCompleted")).toBeUndefined();
    await setStatus("/api/v1/nodes/sno-1", nodeStatus(true));
    await waitFor(
      "UpgradeCompleted",
      i => cond(i, "UpgradeCompleted") === "True/Completed/Upgrade completed",
    );

    await setStatus("/api/v1/nodes/sno-1", nodeStatus(false));
    await setStage("Idle");
    const message =
      "Waiting for system to stabilize before finalize (idle) stage can continue: " +
      "one or more health checks failed: node is not yet ready: sno-1";
    await waitFor("finalize held", i => cond(i, "Idle") === `False/Finalizing/${message}`);
    await new Promise(r => setTimeout(r, 2000));
    expect(cond((await api.get<Ibu>(IBU))!, "Idle")).toBe(`False/Finalizing/${message}`);
    expect(spoke.ostree.stateroots().sort()).toEqual(["rhcos_4.17.0", "rhcos_4.18.1"]);

    await setStatus("/api/v1/nodes/sno-1", nodeStatus(true));
    await waitFor("Idle after finalize", i => cond(i, "Idle") === "True/Idle/Idle");
    expect(spoke.ostree.stateroots()).toEqual(["rhcos_4.18.1"]);
  });
});
