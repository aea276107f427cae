// The agent through a whole image-based upgrade on real parts: Prep, Upgrade with a pivot and
// reboot into the new stateroot (the IBU restored from the file it was saved to), finalize
// removing the old stateroot; and Rollback back to the original stateroot, then finalize.
import { X509Certificate } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { condition, IBU, waitForIbu } from "../support/ibu.js";
import { bootedDeployment, SandboxBoot } from "../../addon/agent/drivers/boot.js";
import { Annotation, type Ibu } from "../../addon/agent/ibu-types.js";
import { fingerprints, pkiRoots } from "../../addon/agent/drivers/crypto.js";
import { run } from "../../addon/agent/exec.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { ControlPlane } from "../support/controlplane.js";
import { VELERO_PHASE_ANNOTATION, VeleroPhaseFixture } from "../support/velero-fixture.js";
import { stringify } from "yaml";
import { publishSeed } from "../support/seed-fixture.js";
import {
  createInfrastructure,
  SEED_ETCD_CLUSTER,
  SEED_INSTALL_CONFIG,
  SEED_KUBEADMIN_HASH,
  writeSeedEtcd,
} from "../../src/sandbox/seed-etcd.js";
import { withOfflineEtcd } from "../../addon/agent/drivers/etcd.js";
import { decodeStored } from "../../addon/agent/drivers/kproto.js";
import { TestRegistry } from "../support/registry.js";
import { SandboxNode } from "../support/sandbox-node.js";
import { ClusterState, installAgentCrds } from "../support/cluster-state.js";
import { makeSysroot, type TestSysroot } from "../support/sysroot.js";

describe("the agent through Upgrade, finalize and Rollback", () => {
  let cp: ControlPlane;
  let registry: TestRegistry;
  let seedCluster: TestSysroot;
  let api: KubeApi;
  let seed: string;
  let spoke: TestSysroot | undefined;
  let sandbox: SandboxNode | undefined;
  let storeRoot: string;
  let etcdBinary: string;
  const log = process.env.IBU_GITOPS_TEST_LOG
    ? (l: string): void => console.error(`[agent] ${l}`)
    : undefined;

  beforeAll(async () => {
    [cp, registry, seedCluster] = await Promise.all([
      ControlPlane.start({ clusters: ["sno"] }),
      TestRegistry.start(),
      makeSysroot("4.18.1", { hostname: "seed" }),
    ]);
    // Velero's kinds, the mirror kinds and CatalogSources, and ACM's Policy (the replicated
    // policies LCA reads policy manifests from).
    await installAgentCrds(cp.cluster("sno"), ["policies.policy.open-cluster-management.io"]);
    // The seed carries its etcd, holding PKI too (Secrets, ConfigMaps), as OpenShift's does.
    const seedDeployment = seedCluster.ostree.deployments()[0]!;
    etcdBinary = await writeSeedEtcd(
      join(seedCluster.ostree.staterootDir(seedCluster.stateroot), "var", "lib", "etcd"),
      join(seedDeployment.dir, "etc", "kubernetes", "pki"),
    );
    // The seed's own time servers and SSH host keys, which no upgraded node may keep.
    mkdirSync(join(seedDeployment.dir, "etc", "ssh"), { recursive: true });
    writeFileSync(join(seedDeployment.dir, "etc", "chrony.conf"), "server seed.example.com\n");
    writeFileSync(join(seedDeployment.dir, "etc", "ssh", "ssh_host_ed25519_key"), "seed key", {
      mode: 0o600,
    });
    ({ seed } = await publishSeed(registry, seedCluster, {
      version: "4.18.1",
      imageNames: ["release"],
    }));
    api = new KubeApi(cp.cluster("sno").kubeConfig());
  }, 180_000);

  afterEach(async () => {
    await sandbox?.stop();
    await spoke?.remove();
    if (storeRoot) rmSync(storeRoot, { recursive: true, force: true });
  });

  afterAll(async () => {
    await Promise.all([cp?.stop(), registry?.stop(), seedCluster?.remove()]);
  });

  async function boot(
    whileOff?: (reboot: number) => void | Promise<void>,
    opts: { backupDeletionTimeoutSeconds?: number } = {},
  ): Promise<void> {
    await api.delete(IBU); // each test starts from a fresh cluster state
    // Events of earlier tests go: each test sees the Reboot events of its own node only.
    await api.request("DELETE", "/apis/events.k8s.io/v1/namespaces/default/events");
    spoke = await makeSysroot("4.17.0", { hostname: "sno-1" });
    storeRoot = mkdtempSync(join(tmpdir(), "ibu-store-"));
    sandbox = new SandboxNode(spoke, api, {
      insecureRegistries: [registry.host],
      imageStoreRoot: storeRoot,
      log,
      whileOff,
      etcdBinary,
      ...opts,
    });
    sandbox.start();
    await waitFor("Idle", i => cond(i, "Idle") === "True/Idle/Idle");
  }

  const cond = condition;

  const waitFor = (what: string, pred: (i: Ibu) => boolean, timeoutMs = 30_000): Promise<Ibu> =>
    waitForIbu(api, what, pred, timeoutMs);

  async function setStage(stage: string, extra: object = {}): Promise<void> {
    const current = (await api.get<Ibu>(IBU))!;
    await api.replace(IBU, { ...current, spec: { ...current.spec, stage, ...extra } });
  }

  async function ensureNamespace(name: string): Promise<void> {
    await api.request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name },
    });
  }

  const dpas =
    "/apis/oadp.openshift.io/v1alpha1/namespaces/openshift-adp/dataprotectionapplications";
  const creds = "/api/v1/namespaces/openshift-adp/secrets";
  const cloud = Buffer.from("[default]\naws_access_key_id=the-cluster").toString("base64");

  /**
   * OADP as the cluster has it (LCA wants exactly one DataProtectionApplication with OADP
   * content): the DPA, reconciled, its credentials and its available storage location.
   */
  async function ensureDpa(): Promise<void> {
    await ensureNamespace("openshift-adp");
    if (await api.get(`${dpas}/dpa`)) return;
    await api.create(dpas, {
      apiVersion: "oadp.openshift.io/v1alpha1",
      kind: "DataProtectionApplication",
      metadata: { name: "dpa", namespace: "openshift-adp" },
      spec: {
        backupLocations: [
          {
            velero: {
              provider: "aws",
              credential: { name: "cloud-credentials", key: "cloud" },
              objectStorage: { bucket: "backups", prefix: "sno-1" },
            },
          },
        ],
      },
      status: { conditions: [{ type: "Reconciled", status: "True", reason: "Complete" }] },
    });
    await api.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "cloud-credentials", namespace: "openshift-adp" },
      data: { cloud },
    });
    await api
      .create("/apis/velero.io/v1/namespaces/openshift-adp/backupstoragelocations", {
        apiVersion: "velero.io/v1",
        kind: "BackupStorageLocation",
        metadata: { name: "dpa-1", namespace: "openshift-adp" },
        spec: { provider: "aws", objectStorage: { bucket: "backups" } },
        status: { phase: "Available" },
      })
      .catch(() => undefined); // already there
  }

  /** The oadp-cm ConfigMap (a Backup/Restore pair per name) and an extra-manifests ConfigMap. */
  async function writeManifests(
    pairs: Array<{
      name: string;
      wave: string;
      backupPhase?: string;
      restorePhase?: string;
      applyLabel?: string;
    }>,
  ): Promise<void> {
    await ensureDpa();
    await ensureNamespace("openshift-lifecycle-agent");
    const docs = pairs.flatMap(p => [
      {
        apiVersion: "velero.io/v1",
        kind: "Backup",
        metadata: {
          name: p.name,
          namespace: "openshift-adp",
          annotations: {
            ...(p.backupPhase ? { [VELERO_PHASE_ANNOTATION]: p.backupPhase } : {}),
            ...(p.applyLabel ? { "lca.openshift.io/apply-label": p.applyLabel } : {}),
          },
        },
        spec: { includedNamespaces: [p.name] },
      },
      {
        apiVersion: "velero.io/v1",
        kind: "Restore",
        metadata: {
          name: p.name,
          namespace: "openshift-adp",
          annotations: {
            "lca.openshift.io/apply-wave": p.wave,
            ...(p.restorePhase ? { [VELERO_PHASE_ANNOTATION]: p.restorePhase } : {}),
          },
        },
        spec: { backupName: p.name },
      },
    ]);
    const extra = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name: "site-config",
        namespace: "default",
        annotations: { "lca.openshift.io/apply-wave": "1" },
      },
      data: { applied: "after the pivot" },
    };
    for (const [name, ns, data] of [
      [
        "oadp-cm",
        "openshift-adp",
        { "backup-restore.yaml": docs.map(d => stringify(d)).join("---\n") },
      ],
      ["extra-manifests", "openshift-lifecycle-agent", { "site.yaml": stringify(extra) }],
    ] as const) {
      const cm = { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: ns }, data };
      await api.apply(cm);
    }
  }

  const manifestSpec = {
    oadpContent: [{ name: "oadp-cm", namespace: "openshift-adp" }],
    extraManifests: [{ name: "extra-manifests", namespace: "openshift-lifecycle-agent" }],
  };

  /** Moves to Prep with the seed (and `extra` spec fields) and waits until Prep completed. */
  async function prepped(extra: object = {}): Promise<Ibu> {
    await setStage("Prep", { seedImageRef: { image: seed, version: "4.18.1" }, ...extra });
    return waitFor(
      "PrepCompleted",
      i => cond(i, "PrepCompleted") === "True/Completed/Prep stage completed successfully",
    );
  }

  /** Moves to Upgrade and waits until it completed (pivot and reboot included). */
  async function upgraded(): Promise<Ibu> {
    await setStage("Upgrade");
    return waitFor(
      "UpgradeCompleted",
      i => cond(i, "UpgradeCompleted") === "True/Completed/Upgrade completed",
      60_000,
    );
  }

  /** LCA's Reboot events about the IBU, oldest first. */
  async function rebootEvents(): Promise<string[]> {
    const list = await api.get<{
      items: Array<{
        reason: string;
        note: string;
        eventTime: string;
        regarding: { kind: string };
      }>;
    }>("/apis/events.k8s.io/v1/namespaces/default/events");
    return (list?.items ?? [])
      .filter(e => e.reason === "Reboot" && e.regarding.kind === "ImageBasedUpgrade")
      .sort((a, b) => a.eventTime.localeCompare(b.eventTime))
      .map(e => e.note);
  }

  const booted = (): string | undefined =>
    bootedDeployment(spoke!.ostree, new SandboxBoot(spoke!.dir, () => undefined))?.stateroot;

  it("upgrades: Prep, Upgrade pivots into the new stateroot, finalize removes the old one", async () => {
    // The cluster's own configuration (LCA's cluster-configuration): a pull secret and a user
    // CA bundle. The pivot brings the seed's values back (the whileOff hook stands in for the
    // seed's etcd), and the agent must put the cluster's in place again.
    await ensureNamespace("openshift-config");
    const dockerconfig = (who: string): string =>
      Buffer.from(JSON.stringify({ auths: { "quay.example.com": { auth: who } } })).toString(
        "base64",
      );
    const pullSecret = "/api/v1/namespaces/openshift-config/secrets/pull-secret";
    await api.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "pull-secret", namespace: "openshift-config" },
      type: "kubernetes.io/dockerconfigjson",
      data: { ".dockerconfigjson": dockerconfig("the-cluster") },
    });
    await boot(async () => {
      const s = (await api.get<{ data: Record<string, string> }>(pullSecret))!;
      await api.replace(pullSecret, {
        ...s,
        data: { ".dockerconfigjson": dockerconfig("the-seed"), "seed-only": "eA==" },
      });
    });
    // The node's time servers and SSH host key (LCA carries both).
    const bootedEtc = join(spoke!.ostree.deployments()[0]!.dir, "etc");
    mkdirSync(join(bootedEtc, "ssh"), { recursive: true });
    writeFileSync(join(bootedEtc, "chrony.conf"), "server ntp.site.example.com iburst\n");
    writeFileSync(join(bootedEtc, "ssh", "ssh_host_rsa_key"), "node key", { mode: 0o600 });
    await prepped();

    await setStage("Upgrade");
    const done = await waitFor(
      "UpgradeCompleted",
      i => cond(i, "UpgradeCompleted") !== undefined,
      60_000,
    );
    const restored = await api.get<{ data: Record<string, string> }>(pullSecret);
    expect(restored?.data[".dockerconfigjson"]).toBe(dockerconfig("the-cluster"));
    expect(restored?.data["seed-only"]).toBe("eA=="); // merged into, as oc apply does
    const newVar = join(spoke!.ostree.staterootDir("rhcos_4.18.1"), "var");
    expect(existsSync(join(newVar, "opt", "openshift", "cluster-configuration"))).toBe(false);
    // The node's own host name went into the new deployment before it booted.
    const newDeployment = spoke!.ostree.deployments().find(d => d.stateroot === "rhcos_4.18.1")!;
    expect(readFileSync(join(newDeployment.dir, "etc", "hostname"), "utf8").trim()).toBe("sno-1");
    // So did its chrony configuration and SSH host keys; the seed's keys are gone.
    expect(readFileSync(join(newDeployment.dir, "etc", "chrony.conf"), "utf8")).toBe(
      "server ntp.site.example.com iburst\n",
    );
    expect(
      readdirSync(join(newDeployment.dir, "etc", "ssh")).filter(f => f.startsWith("ssh_host_")),
    ).toEqual(["ssh_host_rsa_key"]);
    expect(cond(done, "UpgradeCompleted")).toBe("True/Completed/Upgrade completed");
    expect(cond(done, "UpgradeInProgress")).toBe("False/Completed/Upgrade completed");
    expect(sandbox!.reboots).toBe(1);
    expect(booted()).toBe("rhcos_4.18.1");
    expect(spoke!.ostree.deployments().map(d => d.stateroot)).toEqual([
      "rhcos_4.18.1",
      "rhcos_4.17.0",
    ]);
    expect(done.status?.validNextStages).toEqual(["Idle", "Rollback"]);
    expect(await rebootEvents()).toEqual(["System will now reboot for upgrade"]);
    // The server certificate of the original stateroot expires first (20 days): less 30 minutes.
    const { rollbackExpiration } = await import("../../addon/agent/stages/upgrade.js");
    const expected = rollbackExpiration(spoke!.ostree.staterootDir("rhcos_4.17.0") + "/var");
    expect(expected).toBeDefined();
    expect(done.status?.rollbackAvailabilityExpiration).toBe(expected);
    const days = (Date.parse(expected!) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(19.9);
    expect(days).toBeLessThan(20);
    // The history survived the pivot with the file the IBU was saved to.
    expect(
      done.status?.history?.map(h => [h.stage, !!h.completionTime, h.phases.map(p => p.phase)]),
    ).toEqual([
      ["Prep", true, ["Stateroot", "Precache"]],
      ["Upgrade", true, ["PrePivot", "PostPivot"]],
    ]);

    // The new stateroot has this cluster's own crypto: no seed key or certificate, names of
    // its own, and the original signers, so kubeconfigs from before the upgrade still work.
    const roots = (sr: TestSysroot, stateroot: string): string[] => {
      const d = sr.ostree.deployments().find(x => x.stateroot === stateroot)!;
      return pkiRoots(d.dir, join(sr.ostree.staterootDir(stateroot), "var"));
    };
    const now = fingerprints(roots(spoke!, "rhcos_4.18.1"));
    const fromSeed = fingerprints(roots(seedCluster, "rhcos_4.18.1"));
    expect(now.keys.filter(k => fromSeed.keys.includes(k))).toEqual([]);
    expect(now.certs.filter(c => fromSeed.certs.includes(c))).toEqual([]);
    const newPki = join(roots(spoke!, "rhcos_4.18.1")[0]!, "pki");
    const oldPki = join(roots(spoke!, "rhcos_4.17.0")[0]!, "pki");
    expect(new X509Certificate(readFileSync(join(newPki, "etcd-serving.crt"))).subjectAltName).toBe(
      `DNS:sno-1, DNS:localhost, IP Address:${spoke!.identity.ip}, IP Address:127.0.0.1`,
    );
    const verify = (ca: string, cert: string): Promise<string> =>
      run("openssl", ["verify", "-CAfile", ca, cert]);
    expect(
      await verify(join(oldPki, "ca-bundle.crt"), join(newPki, "apiserver-lb-serving.crt")),
    ).toMatch(/: OK\n$/);
    expect(await verify(join(newPki, "client-ca-bundle.crt"), spoke!.admin.clientCert)).toMatch(
      /: OK\n$/,
    );
    // What the seed's etcd holds was regenerated too: the kubeconfig signer there is this
    // cluster's own (kept), and the signer only etcd held has a new key.
    const stored = await withOfflineEtcd(
      etcdBinary,
      join(spoke!.ostree.staterootDir("rhcos_4.18.1"), "var", "lib", "etcd"),
      async etcd => {
        const out: Record<string, Record<string, string>> = {};
        for (const kv of await etcd.all()) {
          const o = decodeStored(kv.value);
          const name = kv.key.toString().split("/").slice(-2).join("/");
          if (o) out[name] = Object.fromEntries(o.entries.map(e => [e.key, e.value.toString()]));
        }
        return out;
      },
    );
    const lbSigner = stored["openshift-kube-apiserver-operator/loadbalancer-serving-signer"]!;
    expect(lbSigner["tls.crt"]!.trim()).toBe(
      readFileSync(join(oldPki, "lb-signer.crt"), "utf8").trim(),
    );
    const seedStored = await withOfflineEtcd(
      etcdBinary,
      join(seedCluster.ostree.staterootDir("rhcos_4.18.1"), "var", "lib", "etcd"),
      async etcd => {
        for (const kv of await etcd.all())
          if (kv.key.toString().endsWith("openshift-service-ca/signing-key"))
            return decodeStored(kv.value)!
              .entries.find(e => e.key === "tls.key")!
              .value.toString();
        return "";
      },
    );
    // The cluster has no kubeadmin Secret (removed, as OpenShift documents): the seed's went
    // too, so the seed's password opens no upgraded cluster (LCA). Nor an install-config: the
    // seed's stays (LCA fails the Upgrade there; our plain-Kubernetes spokes have none).
    expect(seedStored).toContain("PRIVATE KEY");
    expect(stored["kube-system/kubeadmin"]).toBeUndefined();
    expect(stored["kube-system/cluster-config-v1"]).toEqual({
      "install-config": SEED_INSTALL_CONFIG,
    });
    expect(stored["openshift-service-ca/signing-key"]!["tls.key"]).toContain("PRIVATE KEY");
    expect(stored["openshift-service-ca/signing-key"]!["tls.key"]).not.toBe(seedStored);

    await setStage("Idle");
    const idle = await waitFor("Idle after finalize", i => cond(i, "Idle") === "True/Idle/Idle");
    expect(idle.status?.conditions).toHaveLength(1);
    expect(spoke!.ostree.stateroots()).toEqual(["rhcos_4.18.1"]);
    expect(booted()).toBe("rhcos_4.18.1");
  });

  it("rolls back: after the pivot, Rollback boots the original stateroot; finalize removes the new one", async () => {
    await boot();
    await prepped();
    await upgraded();

    await setStage("Rollback");
    const rolled = await waitFor(
      "RollbackCompleted",
      i => cond(i, "RollbackCompleted") !== undefined,
      60_000,
    );
    expect(cond(rolled, "RollbackCompleted")).toBe("True/Completed/Rollback completed");
    expect(cond(rolled, "UpgradeCompleted")).toBe("False/Failed/Rollback requested");
    expect(rolled.status?.validNextStages).toEqual(["Idle"]);
    expect(sandbox!.reboots).toBe(2);
    expect(booted()).toBe("rhcos_4.17.0");
    expect(await rebootEvents()).toEqual([
      "System will now reboot for upgrade",
      "System will now reboot for rollback",
    ]);

    await setStage("Idle");
    await waitFor("Idle after finalize", i => cond(i, "Idle") === "True/Idle/Idle");
    expect(spoke!.ostree.stateroots()).toEqual(["rhcos_4.17.0"]);
  });

  it("refuses, through the API's CEL rule, a stage that validNextStages does not offer after an upgrade", async () => {
    await boot();
    await prepped();
    await upgraded();
    // validNextStages is [Idle, Rollback] now: Prep is refused before the agent even sees it.
    const current = (await api.get<Ibu>(IBU))!;
    const res = await api.request("PUT", IBU, {
      ...current,
      spec: { ...current.spec, stage: "Prep" },
    });
    expect(res.status).toBe(422);
    expect((res.body as { message: string }).message).toMatch(
      /the stage transition is not permitted/,
    );
  });

  it("backs up before the pivot and restores and applies extra manifests after it, wave by wave", async () => {
    const velero = new VeleroPhaseFixture(api).start();
    try {
      // The klusterlet's Backup names what it keeps with LCA's apply-label.
      await api.apply({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "klusterlet-state", namespace: "default" },
        data: { hub: "https://hub.example.com" },
      });
      await writeManifests([
        { name: "klusterlet", wave: "1", applyLabel: "v1/configmaps/default/klusterlet-state" },
        { name: "app", wave: "2" },
      ]);
      await createStaleBackup("app"); // another installation's: it must not pass for ours
      // OADP's configuration (ensureDpa): the seed's API state has neither the
      // DataProtectionApplication nor its credentials (the whileOff hook removes them).
      // Two volumes: one LVMS provisioned (Retain across the upgrade, then Delete again, as LCA
      // does), one from elsewhere (left alone).
      const pv = (name: string, provisioner: string): object => ({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name, annotations: { "pv.kubernetes.io/provisioned-by": provisioner } },
        spec: {
          capacity: { storage: "1Gi" },
          accessModes: ["ReadWriteOnce"],
          persistentVolumeReclaimPolicy: "Delete",
          hostPath: { path: `/var/${name}` },
        },
      });
      const pvPolicy = async (name: string): Promise<string> => {
        const v = await api.get<{
          metadata: { annotations?: Record<string, string> };
          spec: { persistentVolumeReclaimPolicy: string };
        }>(`/api/v1/persistentvolumes/${name}`);
        const mark = v?.metadata.annotations?.["lca.openshift.io/updated-reclaim-policy"];
        return `${v?.spec.persistentVolumeReclaimPolicy}${mark ? `/${mark}` : ""}`;
      };
      for (const [name, by] of [
        ["lvms-data", "topolvm.io"],
        ["other-data", "example.com/nfs"],
      ] as const) {
        await api.delete(`/api/v1/persistentvolumes/${name}`);
        await api.create("/api/v1/persistentvolumes", pv(name, by));
      }
      const atPivot: string[] = [];
      await boot(async () => {
        atPivot.push(await pvPolicy("lvms-data"), await pvPolicy("other-data"));
        await api.delete(`${dpas}/dpa`);
        await api.delete(`${creds}/cloud-credentials`);
      });
      await setStage("Prep", { seedImageRef: { image: seed, version: "4.18.1" }, ...manifestSpec });
      await waitFor(
        "PrepCompleted",
        i => cond(i, "PrepCompleted") === "True/Completed/Prep stage completed successfully",
      );
      // Prep asked Velero to delete it (the fixture did) before going on.
      expect(velero.deleted).toBe(1);
      expect(
        await api.get("/apis/velero.io/v1/namespaces/openshift-adp/backups/app"),
      ).toBeUndefined();
      // Velero syncs another one back between Prep and Upgrade: the Upgrade checks again, as
      // LCA does before each group of Backups.
      await createStaleBackup("klusterlet");
      await setStage("Upgrade");
      await waitFor(
        "UpgradeCompleted",
        i => cond(i, "UpgradeCompleted") === "True/Completed/Upgrade completed",
        60_000,
      );
      const phase = async (plural: string, name: string): Promise<string | undefined> =>
        (
          await api.get<{ status?: { phase?: string } }>(
            `/apis/velero.io/v1/namespaces/openshift-adp/${plural}/${name}`,
          )
        )?.status?.phase;
      const kubeSystem = await api.get<{ metadata: { uid: string } }>(
        "/api/v1/namespaces/kube-system",
      );
      for (const name of ["klusterlet", "app"]) {
        expect(await phase("backups", name)).toBe("Completed");
        expect(await phase("restores", name)).toBe("Completed");
        // this cluster's Backups, by LCA's label (no ClusterVersion here: kube-system's UID)
        const b = await api.get<{ metadata: { labels: Record<string, string> } }>(
          `/apis/velero.io/v1/namespaces/openshift-adp/backups/${name}`,
        );
        expect(b?.metadata.labels["config.openshift.io/clusterID"]).toBe(kubeSystem?.metadata.uid);
      }
      // apply-label: the object carries the Backup's label, and the Backup selects by it.
      const labelled = await api.get<{ metadata: { labels?: Record<string, string> } }>(
        "/api/v1/namespaces/default/configmaps/klusterlet-state",
      );
      expect(labelled?.metadata.labels?.["lca.openshift.io/backup"]).toBe("klusterlet");
      const backup = await api.get<{ spec: { labelSelector?: object } }>(
        "/apis/velero.io/v1/namespaces/openshift-adp/backups/klusterlet",
      );
      expect(backup?.spec.labelSelector).toEqual({
        matchLabels: { "lca.openshift.io/backup": "klusterlet" },
      });
      expect(
        (await api.get<{ data: object }>("/api/v1/namespaces/default/configmaps/site-config"))
          ?.data,
      ).toEqual({ applied: "after the pivot" });
      expect(atPivot).toEqual(["Retain/true", "Delete"]);
      expect([await pvPolicy("lvms-data"), await pvPolicy("other-data")]).toEqual([
        "Delete",
        "Delete",
      ]);
      // OADP's configuration was put back after the pivot, before the Restores.
      const dpa = await api.get<{ spec: { backupLocations: Array<{ velero: object }> } }>(
        `${dpas}/dpa`,
      );
      expect(dpa?.spec.backupLocations[0]?.velero).toMatchObject({
        objectStorage: { prefix: "sno-1" },
      });
      expect(
        (await api.get<{ data: { cloud: string } }>(`${creds}/cloud-credentials`))?.data.cloud,
      ).toBe(cloud);
      await setStage("Idle");
      await waitFor("Idle after finalize", i => cond(i, "Idle") === "True/Idle/Idle");
      // the two stale ones, then finalize's for this upgrade's two, which finalize waited for
      expect(velero.deleted).toBe(4);
      const backups = await api.get<{ items: unknown[] }>(
        "/apis/velero.io/v1/namespaces/openshift-adp/backups",
      );
      expect(backups?.items).toEqual([]);
    } finally {
      await velero.stop();
    }
  });

  it("takes the target release's manifests out of the cluster's policies, applies them after the pivot before the extra manifests", async () => {
    await ensureNamespace("sno"); // the cluster namespace ACM replicates policies into
    await ensureNamespace("openshift-lifecycle-agent");
    const labelled = (name: string, version: string, data: object): object => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: {
        name,
        namespace: "default",
        labels: { "lca.openshift.io/target-ocp-version": version },
      },
      data,
    });
    const policy = (name: string, wave: string, objects: object[], action = "inform"): object => ({
      apiVersion: "policy.open-cluster-management.io/v1",
      kind: "Policy",
      metadata: {
        name: `ztp-site.${name}`,
        namespace: "sno",
        annotations: { "ran.openshift.io/ztp-deploy-wave": wave },
      },
      spec: {
        remediationAction: action,
        disabled: false,
        "policy-templates": [
          {
            objectDefinition: {
              apiVersion: "policy.open-cluster-management.io/v1",
              kind: "ConfigurationPolicy",
              metadata: { name: name },
              spec: {
                remediationAction: action,
                severity: "low",
                "object-templates": objects.map(o => ({
                  complianceType: "musthave",
                  objectDefinition: o,
                })),
              },
            },
          },
        ],
      },
    });
    for (const p of [
      policy("late", "10", [labelled("policy-late", "4.18", { wave: "10" })]),
      policy("early", "1", [
        labelled("policy-early", "4.18.1", { wave: "1" }),
        labelled("site-tuning", "4.18", { tuning: "from the policy" }),
        labelled("for-another-release", "4.17", { wave: "1" }),
      ]),
      policy("enforced", "1", [labelled("enforced", "4.18", {})], "enforce"),
    ])
      await api.apply(p as never);
    // An extra manifest merged into what the policy made (apply-type merge).
    await api.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "extra-merge", namespace: "openshift-lifecycle-agent" },
      data: {
        "tuning.yaml": stringify({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: {
            name: "site-tuning",
            namespace: "default",
            annotations: { "lca.openshift.io/apply-type": "merge" },
          },
          data: { extra: "from the extra manifests" },
        }),
      },
    });
    const count = (n: string): Promise<unknown> =>
      api.mergePatch(IBU, {
        metadata: { annotations: { "lca.openshift.io/target-ocp-version-manifest-count": n } },
      });
    const spec = {
      seedImageRef: { image: seed, version: "4.18.1" },
      extraManifests: [{ name: "extra-merge", namespace: "openshift-lifecycle-agent" }],
    };
    await boot();
    // A count that does not match what the policies hold fails Prep, with LCA's message.
    await count("2");
    await setStage("Prep", spec);
    const refused = await waitFor("Prep failed", i => cond(i, "PrepCompleted") !== undefined);
    expect(cond(refused, "PrepCompleted")).toBe("False/Failed/Prep failed");
    expect(cond(refused, "PrepInProgress")).toBe(
      "False/Failed/failed to validate IBU spec: failed to validate manifests from policies: The labeled manifests count found in policies 3 does not match the expected manifests count 2",
    );
    await setStage("Idle");
    await waitFor("Idle after cancel", i => cond(i, "Idle") === "True/Idle/Idle");

    await count("3");
    await prepped(spec);
    await upgraded();
    const get = (
      name: string,
    ): Promise<
      { metadata: { resourceVersion: string; annotations?: object }; data: object } | undefined
    > => api.get(`/api/v1/namespaces/default/configmaps/${name}`);
    const early = await get("policy-early");
    const late = await get("policy-late");
    expect(late?.data).toEqual({ wave: "10" });
    // policies apply in ztp-deploy-wave order (etcd's revisions only grow)
    expect(Number(early?.metadata.resourceVersion)).toBeLessThan(
      Number(late?.metadata.resourceVersion),
    );
    const tuning = await get("site-tuning");
    expect(tuning?.data).toEqual({ tuning: "from the policy", extra: "from the extra manifests" });
    expect(tuning?.metadata.annotations).toBeUndefined();
    expect(await get("for-another-release")).toBeUndefined();
    expect(await get("enforced")).toBeUndefined();
    const newVar = join(spoke!.ostree.staterootDir("rhcos_4.18.1"), "var", "opt");
    expect(existsSync(join(newVar, "policy-manifests"))).toBe(false);
    expect(existsSync(join(newVar, "extra-manifests"))).toBe(false);
    for (const p of ["late", "early", "enforced"])
      await api.delete(
        `/apis/policy.open-cluster-management.io/v1/namespaces/sno/policies/ztp-site.${p}`,
      );
  });

  it("fails Upgrade before the pivot, saying what to do, when the seed's etcd cannot be opened", async () => {
    const real = etcdBinary;
    etcdBinary = "/nonexistent/etcd";
    try {
      await boot();
      await prepped();
      await setStage("Upgrade");
      const failed = await waitFor(
        "UpgradeCompleted",
        i => cond(i, "UpgradeCompleted") !== undefined,
      );
      expect(cond(failed, "UpgradeCompleted")).toBe("False/Failed/Upgrade failed");
      expect(cond(failed, "UpgradeInProgress")).toMatch(
        /^False\/Failed\/the seed's etcd in rhcos_4\.18\.1 holds certificates to regenerate, but etcd cannot be run \(.*ENOENT\): give the agent an etcd executable with --etcd$/,
      );
      expect(booted()).toBe("rhcos_4.17.0");
      await setStage("Idle");
      await waitFor("Idle after cancel", i => cond(i, "Idle") === "True/Idle/Idle");
      expect(spoke!.ostree.stateroots()).toEqual(["rhcos_4.17.0"]);
    } finally {
      etcdBinary = real;
    }
  });

  it("fails Upgrade before the pivot when a Backup fails, and a cancel returns to Idle on the original stateroot", async () => {
    const velero = new VeleroPhaseFixture(api).start();
    try {
      for (const plural of ["backups", "restores", "deletebackuprequests"]) {
        const list = await api.get<{ items: Array<{ metadata: { name: string } }> }>(
          `/apis/velero.io/v1/namespaces/openshift-adp/${plural}`,
        );
        for (const o of list?.items ?? [])
          await api.delete(
            `/apis/velero.io/v1/namespaces/openshift-adp/${plural}/${o.metadata.name}`,
          );
      }
      await api.apply({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "broken-state", namespace: "default" },
        data: { kept: "by the Backup" },
      });
      const brokenLabel = async (): Promise<string | undefined> =>
        (
          await api.get<{ metadata: { labels?: Record<string, string> } }>(
            "/api/v1/namespaces/default/configmaps/broken-state",
          )
        )?.metadata.labels?.["lca.openshift.io/backup"];
      await writeManifests([
        {
          name: "broken",
          wave: "1",
          backupPhase: "PartiallyFailed",
          applyLabel: "v1/configmaps/default/broken-state",
        },
      ]);
      await boot();
      await setStage("Prep", { seedImageRef: { image: seed, version: "4.18.1" }, ...manifestSpec });
      await waitFor(
        "PrepCompleted",
        i => cond(i, "PrepCompleted") === "True/Completed/Prep stage completed successfully",
      );
      await setStage("Upgrade");
      const failed = await waitFor(
        "UpgradeCompleted",
        i => cond(i, "UpgradeCompleted") !== undefined,
      );
      expect(cond(failed, "UpgradeCompleted")).toBe("False/Failed/Upgrade failed");
      expect(cond(failed, "UpgradeInProgress")).toBe("False/Failed/Failed backup CRs: broken");
      expect(failed.status?.validNextStages).toEqual(["Idle"]);
      expect(booted()).toBe("rhcos_4.17.0");
      expect(await brokenLabel()).toBe("broken");
      await setStage("Idle");
      await waitFor("Idle after cancel", i => cond(i, "Idle") === "True/Idle/Idle");
      expect(spoke!.ostree.stateroots()).toEqual(["rhcos_4.17.0"]);
      // A cancel cleans up as a finalize does: the failed Backup deleted, the label removed.
      expect(
        await api.get("/apis/velero.io/v1/namespaces/openshift-adp/backups/broken"),
      ).toBeUndefined();
      expect(await brokenLabel()).toBeUndefined();
    } finally {
      await velero.stop();
    }
  });

  it("fails Prep when OADP content does not pair every Backup with a Restore (LCA's message)", async () => {
    await ensureDpa();
    const lonely = {
      apiVersion: "velero.io/v1",
      kind: "Backup",
      metadata: { name: "lonely", namespace: "openshift-adp" },
      spec: {},
    };
    await api.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "oadp-unpaired", namespace: "openshift-adp" },
      data: { "b.yaml": stringify(lonely) },
    });
    await boot();
    await setStage("Prep", {
      seedImageRef: { image: seed, version: "4.18.1" },
      oadpContent: [{ name: "oadp-unpaired", namespace: "openshift-adp" }],
    });
    const failed = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
    expect(cond(failed, "PrepInProgress")).toBe(
      "False/Failed/failed to validate IBU spec: failed to validate oadp configMap: Both backup and restore CRs should be specified in OADP configmaps and each backup CR should be paired with a corresponding restore CR.",
    );
  });

  it("fails Prep with OADP content but no DataProtectionApplication (LCA's message)", async () => {
    await writeManifests([{ name: "app", wave: "1" }]);
    await api.delete(`${dpas}/dpa`);
    try {
      await boot();
      await setStage("Prep", { seedImageRef: { image: seed, version: "4.18.1" }, ...manifestSpec });
      const failed = await waitFor("PrepCompleted", i => cond(i, "PrepCompleted") !== undefined);
      expect(cond(failed, "PrepInProgress")).toBe(
        "False/Failed/failed to validate IBU spec: failed to validate oadp configMap: No DataProtectionApplication CR found in the openshift-adp",
      );
    } finally {
      await ensureDpa();
    }
  });

  /**
   * A completed Backup named like one of ours, made by another installation that shared the
   * object storage (Velero syncs such Backups back): it must not pass for this upgrade's.
   */
  async function createStaleBackup(name: string): Promise<void> {
    await api.create("/apis/velero.io/v1/namespaces/openshift-adp/backups", {
      apiVersion: "velero.io/v1",
      kind: "Backup",
      metadata: {
        name,
        namespace: "openshift-adp",
        labels: { "config.openshift.io/clusterID": "another-installation" },
      },
      spec: {},
      status: { phase: "Completed" },
    });
  }

  async function clearVelero(): Promise<void> {
    for (const plural of ["backups", "restores", "deletebackuprequests"]) {
      const list = await api.get<{ items: Array<{ metadata: { name: string } }> }>(
        `/apis/velero.io/v1/namespaces/openshift-adp/${plural}`,
      );
      for (const o of list?.items ?? [])
        await api.delete(
          `/apis/velero.io/v1/namespaces/openshift-adp/${plural}/${o.metadata.name}`,
        );
    }
  }

  it.each([
    [
      "the upgrade does not complete within initMonitorTimeoutSeconds",
      "InProgress",
      /^Rollback due to LCA Init Monitor timeout, after 3s$/,
    ],
    [
      "a Restore fails after the pivot",
      "Failed",
      /^Rollback due to restore failure: Failed restore CRs: stuck$/,
    ],
  ])(
    "rolls back automatically when %s; a cancel then cleans up",
    async (_what, restorePhase, message) => {
      const velero = new VeleroPhaseFixture(api).start();
      try {
        await clearVelero();
        await writeManifests([{ name: "stuck", wave: "1", restorePhase }]);
        await boot();
        await setStage("Prep", {
          seedImageRef: { image: seed, version: "4.18.1" },
          ...manifestSpec,
          autoRollbackOnFailure: { initMonitorTimeoutSeconds: 3 },
        });
        await waitFor(
          "PrepCompleted",
          i => cond(i, "PrepCompleted") === "True/Completed/Prep stage completed successfully",
        );
        await setStage("Upgrade");
        const failed = await waitFor(
          "an automatic rollback",
          i =>
            cond(i, "UpgradeCompleted") === "False/Failed/Upgrade failed" && sandbox!.reboots >= 2,
          60_000,
        );
        const inProgress = failed.status!.conditions!.find(c => c.type === "UpgradeInProgress")!;
        expect(inProgress.reason).toBe("Failed");
        expect(inProgress.message).toMatch(message);
        expect(booted()).toBe("rhcos_4.17.0");
        expect(failed.status?.validNextStages).toEqual(["Idle"]);
        await setStage("Idle");
        await waitFor("Idle after cancel", i => cond(i, "Idle") === "True/Idle/Idle");
        expect(spoke!.ostree.stateroots()).toEqual(["rhcos_4.17.0"]);
      } finally {
        await velero.stop();
      }
    },
  );

  it.each([
    ["rolls back automatically", undefined],
    ["with post-reboot-config Disabled, fails and stays", "Disabled"],
  ])("when the crypto check after the pivot fails, %s", async (_what, postRebootConfig) => {
    // While the node is off for the pivot, a seed certificate finds its way back onto the disk.
    await boot(reboot => {
      if (reboot !== 1) return;
      const pem = join("var", "lib", "kubelet", "pki", "kubelet-server-current.pem");
      copyFileSync(
        join(seedCluster.ostree.staterootDir("rhcos_4.18.1"), pem),
        join(spoke!.ostree.staterootDir("rhcos_4.18.1"), pem),
      );
    });
    if (postRebootConfig) {
      const current = (await api.get<Ibu>(IBU))!;
      await api.replace(IBU, {
        ...current,
        metadata: {
          ...current.metadata,
          annotations: { [Annotation.autoRollbackPostRebootConfig]: postRebootConfig },
        },
      });
    }
    await prepped();
    await setStage("Upgrade");
    const failed = await waitFor(
      "Upgrade failed",
      i =>
        cond(i, "UpgradeCompleted") === "False/Failed/Upgrade failed" &&
        sandbox!.reboots >= (postRebootConfig ? 1 : 2),
      60_000,
    );
    const message = failed.status!.conditions!.find(c => c.type === "UpgradeInProgress")!.message;
    expect(message).toMatch(
      /kubelet-server-current\.pem: certificate "system:node:seed" left from the seed/,
    );
    if (postRebootConfig) {
      expect(message).toMatch(/^cluster cryptography check failed: /);
      expect(booted()).toBe("rhcos_4.18.1");
      expect(failed.status?.validNextStages).toEqual(["Rollback"]);
    } else {
      expect(message).toMatch(
        /^Rollback due to postpivot failure: cluster cryptography check failed: /,
      );
      expect(booted()).toBe("rhcos_4.17.0");
      expect(failed.status?.validNextStages).toEqual(["Idle"]);
    }
  });

  it("brings a deleted IBU back as it was in the middle of an upgrade", async () => {
    await boot();
    await prepped();
    // Its labels and annotations come back too, as LCA restores the saved object's metadata.
    await api.mergePatch(IBU, {
      metadata: { labels: { "example.com/owner": "site-team" }, annotations: { note: "kept" } },
    });
    await new Promise(r => setTimeout(r, 1000)); // the agent sees the change (a watch event)
    await api.delete(IBU);
    const back = await waitFor("the IBU back", i => cond(i, "PrepCompleted") !== undefined);
    expect(back.metadata.labels).toEqual({ "example.com/owner": "site-team" });
    expect(back.metadata.annotations).toEqual({ note: "kept" });
    expect(back.spec.stage).toBe("Prep");
    expect(back.spec.seedImageRef?.version).toBe("4.18.1");
    expect(cond(back, "PrepCompleted")).toBe("True/Completed/Prep stage completed successfully");
    expect(back.status?.validNextStages).toEqual(["Idle", "Upgrade"]);
    await setStage("Idle");
    await waitFor("Idle after cancel", i => cond(i, "Idle") === "True/Idle/Idle");
    await api.delete(IBU);
    const fresh = await waitFor("a fresh IBU", i => cond(i, "Idle") === "True/Idle/Idle");
    expect(fresh.spec).toEqual({ stage: "Idle" });
  });

  describe("leaves the cluster as LCA leaves it", () => {
    const cluster = (): ClusterState => new ClusterState(api, "sno-1");
    const clusterConfiguration = (): Promise<void> => cluster().configure();
    const seedState = (): Promise<void> => cluster().becomeSeeds();
    const expectClusterConfiguration = (): Promise<void> => cluster().expectCarried();
    const removeClusterConfiguration = (): Promise<void> => cluster().remove();
    type Meta = { metadata: { labels?: Record<string, string> } };

    it("carries the mirror sets with their labels and annotations and the node's own labels; the seed's mirror sets and CatalogSources go", async () => {
      try {
        await clusterConfiguration();
        await boot(reboot => (reboot === 1 ? seedState() : undefined));
        await prepped();
        await upgraded();
        await expectClusterConfiguration();
        await setStage("Idle");
        await waitFor("Idle after finalize", i => cond(i, "Idle") === "True/Idle/Idle");
      } finally {
        await removeClusterConfiguration();
      }
    });

    it("carries the kubeadmin password hash, the install-config and the infra ID into the seed's etcd, which the apiserver reads back", async () => {
      const hash = "$2a$10$clusterclusterclusterOe7Jj8yq1sHk3m7l0ZC8b3Gm2Jm4nqK";
      const installConfig =
        "apiVersion: v1\nbaseDomain: site.example.com\nmetadata:\n  name: sno-1\n";
      const kubeadmin = "/api/v1/namespaces/kube-system/secrets/kubeadmin";
      const clusterConfig = "/api/v1/namespaces/kube-system/configmaps/cluster-config-v1";
      const infrastructures = "/apis/config.openshift.io/v1/infrastructures";
      const infraCrd =
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/infrastructures.config.openshift.io";
      try {
        // OpenShift's Infrastructure, with this cluster's infra ID (its CRD only for this test:
        // the health checks read Infrastructure where it is served).
        await installAgentCrds(cp.cluster("sno"), ["infrastructures.config.openshift.io"]);
        await createInfrastructure(api, "sno-1-q4w9z");
        await api.apply({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "kubeadmin", namespace: "kube-system" },
          data: { kubeadmin: Buffer.from(hash).toString("base64") },
        });
        await api.apply({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "cluster-config-v1", namespace: "kube-system" },
          data: { "install-config": installConfig },
        });
        await boot();
        await prepped();
        await upgraded();
        // A real kube-apiserver over the new stateroot's etcd, as the node boots it.
        const etcd = join(spoke!.ostree.staterootDir("rhcos_4.18.1"), "var", "lib", "etcd");
        const seedApi = await ControlPlane.start({
          clusters: [SEED_ETCD_CLUSTER],
          etcdDataDir: etcd,
        });
        type Data = { data?: Record<string, string> };
        try {
          const read = new KubeApi(seedApi.cluster(SEED_ETCD_CLUSTER).kubeConfig());
          const secret = await read.get<Data>(kubeadmin);
          expect(Buffer.from(secret?.data?.kubeadmin ?? "", "base64").toString()).toBe(hash);
          for (const ns of ["kube-system", "openshift-etcd"])
            expect(
              (await read.get<Data>(`/api/v1/namespaces/${ns}/configmaps/cluster-config-v1`))?.data,
            ).toEqual({ "install-config": installConfig });
          const seedInfra = await read.get<{ status: { infrastructureName: string } }>(
            `${infrastructures}/cluster`,
          );
          expect(seedInfra?.status.infrastructureName).toBe("sno-1-q4w9z");
        } finally {
          await seedApi.stop();
        }
        // The seed image itself is untouched: the next cluster upgraded from it gets its own.
        const inSeed = await withOfflineEtcd(
          etcdBinary,
          join(seedCluster.ostree.staterootDir("rhcos_4.18.1"), "var", "lib", "etcd"),
          async e =>
            (await e.all()).find(kv => kv.key.toString().endsWith("/kube-system/kubeadmin")),
        );
        expect(decodeStored(inSeed!.value)?.entries[0]?.value.toString()).toBe(SEED_KUBEADMIN_HASH);
        // The saved hash went with the cluster configuration after the pivot.
        const newVar = join(spoke!.ostree.staterootDir("rhcos_4.18.1"), "var");
        expect(existsSync(join(newVar, "opt", "openshift", "cluster-configuration"))).toBe(false);
      } finally {
        await api.delete(kubeadmin);
        await api.delete(clusterConfig);
        await api.delete(`${infrastructures}/cluster`);
        await api.delete(infraCrd);
        // Gone from discovery before the next test's health checks look for it.
        for (let i = 0; i < 100 && (await api.request("GET", infrastructures)).status !== 404; i++)
          await new Promise(r => setTimeout(r, 100));
      }
    });

    it("fails Prep with LCA's message when Velero does not delete a stale Backup of another cluster within the bound", async () => {
      const velero = new VeleroPhaseFixture(api).start();
      velero.processDeletes = false; // Velero is down: the request is never processed
      try {
        await clearVelero();
        await writeManifests([{ name: "app", wave: "1" }]);
        await createStaleBackup("app");
        await boot(undefined, { backupDeletionTimeoutSeconds: 3 });
        await setStage("Prep", {
          seedImageRef: { image: seed, version: "4.18.1" },
          ...manifestSpec,
        });
        const failed = await waitFor("Prep failed", i => cond(i, "PrepCompleted") !== undefined);
        expect(cond(failed, "PrepCompleted")).toBe("False/Failed/Prep failed");
        expect(cond(failed, "PrepInProgress")).toBe(
          "False/Failed/failed to validate IBU spec: failed to validate oadp configMap: Failed to cleanup stale Backups: failed to delete backups: context deadline exceeded",
        );
        // It asked Velero, as LCA does, and the stale Backup is still there.
        const dbr = await api.get<{ spec: { backupName: string } }>(
          "/apis/velero.io/v1/namespaces/openshift-adp/deletebackuprequests/app",
        );
        expect(dbr?.spec.backupName).toBe("app");
        expect(
          await api.get("/apis/velero.io/v1/namespaces/openshift-adp/backups/app"),
        ).toBeDefined();
      } finally {
        await velero.stop();
        await clearVelero();
      }
    });

    it("in the Upgrade, says why past the bound on a stale Backup and goes on once Velero deletes it, as LCA retries", async () => {
      const velero = new VeleroPhaseFixture(api).start();
      try {
        await clearVelero();
        await writeManifests([{ name: "app", wave: "1" }]);
        await boot(undefined, { backupDeletionTimeoutSeconds: 3 });
        await prepped(manifestSpec);
        // Velero syncs a stale one back after Prep, and is down when the Upgrade asks.
        velero.processDeletes = false;
        await createStaleBackup("app");
        await setStage("Upgrade");
        const stuck = await waitFor(
          "the stale-Backup failure",
          i => cond(i, "UpgradeInProgress")?.includes("Failure occurred") ?? false,
        );
        expect(cond(stuck, "UpgradeInProgress")).toBe(
          "True/InProgress/Backing up Application Data: Failure occurred: failed to cleanup stale Backups: failed to delete backups: context deadline exceeded",
        );
        expect(cond(stuck, "UpgradeCompleted")).toBeUndefined();
        // Velero is back: the Upgrade goes on and completes, with this cluster's own Backup.
        velero.processDeletes = true;
        await waitFor(
          "UpgradeCompleted",
          i => cond(i, "UpgradeCompleted") === "True/Completed/Upgrade completed",
          60_000,
        );
        const mine = await api.get<{ metadata: { labels: Record<string, string> } }>(
          "/apis/velero.io/v1/namespaces/openshift-adp/backups/app",
        );
        expect(mine?.metadata.labels["config.openshift.io/clusterID"]).not.toBe(
          "another-installation",
        );
      } finally {
        await velero.stop();
        await clearVelero();
      }
    }, 120_000);

    it("re-creates a deleted IBU fresh at Idle after a failed Rollback, so it can move again", async () => {
      await boot();
      await prepped();
      await upgraded();
      // The original deployment is gone (removed by hand, say): Rollback cannot succeed.
      await spoke!.ostree.removeStateroot("rhcos_4.17.0");
      await setStage("Rollback");
      const failed = await waitFor(
        "Rollback failed",
        i => cond(i, "RollbackCompleted") !== undefined,
      );
      expect(cond(failed, "RollbackCompleted")).toBe("False/Failed/Rollback failed");
      expect(failed.status?.validNextStages).toBeUndefined();
      // No stage may follow: the API's CEL rule refuses every change.
      const refused = await api.request("PUT", IBU, {
        ...failed,
        spec: { ...failed.spec, stage: "Idle" },
      });
      expect(refused.status).toBe(422);
      await api.delete(IBU);
      const fresh = await waitFor(
        "a fresh IBU",
        i => cond(i, "Idle") === "True/Idle/Idle" && i.status?.validNextStages !== undefined,
      );
      expect(fresh.spec).toEqual({ stage: "Idle" });
      expect(fresh.status?.conditions).toHaveLength(1);
      expect(fresh.status?.validNextStages).toEqual(["Prep"]);
      // ... and it stays fresh: the agent does not bring the failed one back later.
      await new Promise(r => setTimeout(r, 2500));
      expect(cond((await api.get<Ibu>(IBU))!, "RollbackCompleted")).toBeUndefined();
    });

    it("waits for Velero to delete the backups on finalize, fails saying why when it does not, removes apply-label labels; a second upgrade runs clean", async () => {
      const velero = new VeleroPhaseFixture(api).start();
      const seedCluster2 = await makeSysroot("4.19.0", { hostname: "seed" });
      try {
        await clearVelero();
        await clusterConfiguration();
        const { seed: seed2 } = await publishSeed(registry, seedCluster2, {
          version: "4.19.0",
          imageNames: ["release"],
        });
        await api.apply({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "klusterlet-state", namespace: "default" },
          data: { hub: "https://hub.example.com" },
        });
        const applyLabel = async (): Promise<string | undefined> =>
          (await api.get<Meta>("/api/v1/namespaces/default/configmaps/klusterlet-state"))?.metadata
            .labels?.["lca.openshift.io/backup"];
        await writeManifests([
          { name: "klusterlet", wave: "1", applyLabel: "v1/configmaps/default/klusterlet-state" },
        ]);
        const backup = "/apis/velero.io/v1/namespaces/openshift-adp/backups/klusterlet";
        const request =
          "/apis/velero.io/v1/namespaces/openshift-adp/deletebackuprequests/klusterlet";
        // The seed's API state has no Restores either (the sandbox's API state stays).
        const seedsWithoutRestores = async (): Promise<void> => {
          await seedState();
          const restores = "/apis/velero.io/v1/namespaces/openshift-adp/restores";
          await api.delete(`${restores}/klusterlet`);
        };
        await boot(seedsWithoutRestores, {
          backupDeletionTimeoutSeconds: 3,
        });
        await prepped(manifestSpec);
        await upgraded();
        expect(await applyLabel()).toBe("klusterlet");

        // Velero does not process the DeleteBackupRequest: finalize must not report Idle.
        velero.processDeletes = false;
        await setStage("Idle");
        const failed = await waitFor(
          "FinalizeFailed",
          i => i.status?.conditions?.find(c => c.type === "Idle")?.reason === "FinalizeFailed",
        );
        expect(cond(failed, "Idle")).toBe(
          "False/FinalizeFailed/failed to cleanup backups: failed to delete backups: context deadline exceeded Perform cleanup manually then add 'lca.openshift.io/manual-cleanup-done' annotation to ibu CR to transition back to Idle",
        );
        expect(await api.get(backup)).toBeDefined();
        const kubeSystem = await api.get<{ metadata: { uid: string } }>(
          "/api/v1/namespaces/kube-system",
        );
        const dbr = await api.get<Meta & { spec: { backupName: string } }>(request);
        expect(dbr?.spec.backupName).toBe("klusterlet");
        expect(dbr?.metadata.labels).toEqual({
          "config.openshift.io/clusterID": kubeSystem?.metadata.uid,
        });
        // LCA removes the label as it asks for the deletion: no later Backup selects the object.
        expect(await applyLabel()).toBeUndefined();

        // Velero is back; the user says so: finalize runs again, asks afresh, and completes.
        velero.processDeletes = true;
        await api.mergePatch(IBU, {
          metadata: { annotations: { "lca.openshift.io/manual-cleanup-done": "" } },
        });
        await waitFor("Idle after finalize", i => cond(i, "Idle") === "True/Idle/Idle");
        expect(await api.get(backup)).toBeUndefined();
        expect(await api.get(request)).toBeUndefined();

        // A second upgrade of the same cluster, with the same OADP content: nothing from the
        // first gets in its way, and it leaves the cluster as the first did.
        await setStage("Prep", {
          seedImageRef: { image: seed2, version: "4.19.0" },
          ...manifestSpec,
        });
        await waitFor(
          "second PrepCompleted",
          i => cond(i, "PrepCompleted") === "True/Completed/Prep stage completed successfully",
        );
        await setStage("Upgrade");
        const second = await waitFor(
          "second UpgradeCompleted",
          i => cond(i, "UpgradeCompleted") !== undefined,
          60_000,
        );
        expect(cond(second, "UpgradeCompleted")).toBe("True/Completed/Upgrade completed");
        expect(booted()).toBe("rhcos_4.19.0");
        expect(second.status?.history?.map(h => [h.stage, h.phases.map(p => p.phase)])).toEqual([
          ["Prep", ["Stateroot", "Precache"]],
          ["Upgrade", ["PrePivot", "PostPivot"]],
        ]);
        await expectClusterConfiguration();
        expect(await applyLabel()).toBe("klusterlet");
        await setStage("Idle");
        await waitFor("second finalize", i => cond(i, "Idle") === "True/Idle/Idle");
        expect(spoke!.ostree.stateroots()).toEqual(["rhcos_4.19.0"]);
        expect(await api.get(backup)).toBeUndefined();
        expect(await applyLabel()).toBeUndefined();
        expect(sandbox!.reboots).toBe(2);
      } finally {
        await velero.stop();
        await seedCluster2.remove();
        await removeClusterConfiguration();
      }
    }, 240_000);
  });
});
