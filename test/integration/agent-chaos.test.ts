// Chaos: the agent process is SIGKILLed at seeded random moments throughout full
// Prep → Upgrade → finalize runs (reboots included) and restarted each time, as systemd or the
// kubelet would. Every run must still converge: booted into the new stateroot, the old one
// gone, only Idle=True, nothing left in LCA's workspace; with OADP content, the cluster's
// configuration carried across the pivot (mirror sets with their metadata, node labels; the
// seed's mirror sets and CatalogSources gone; the kubeadmin password hash in the seed's etcd), the backups deleted through Velero (finalize
// waits for it) and their apply-label labels removed. IBU_GITOPS_CHAOS_SEED and
// IBU_GITOPS_CHAOS_KILLS change the seed and the number of kills (at least 50 by default).
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IBU_PATH } from "../../addon/agent/controller.js";
import { fingerprints, pkiProblems, pkiRoots } from "../../addon/agent/drivers/crypto.js";
import { bootedDeployment, SandboxBoot } from "../../addon/agent/drivers/boot.js";
import type { Ibu } from "../../addon/agent/ibu-types.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { AgentProcess } from "../support/agent-process.js";
import { ControlPlane } from "../support/controlplane.js";
import { ClusterState, installAgentCrds } from "../support/cluster-state.js";
import { VeleroPhaseFixture } from "../support/velero-fixture.js";
import { stringify } from "yaml";
import { publishSeed } from "../support/seed-fixture.js";
import { writeSeedEtcd } from "../../src/sandbox/seed-etcd.js";
import { withOfflineEtcd } from "../../addon/agent/drivers/etcd.js";
import { decodeStored } from "../../addon/agent/drivers/kproto.js";
import { TestRegistry } from "../support/registry.js";
import { makeSysroot, type TestSysroot } from "../support/sysroot.js";

const SEED = Number(process.env.IBU_GITOPS_CHAOS_SEED ?? 20261126);
/** At least this many kill points in all; runs go on until they are reached. */
const MIN_KILLS = Number(process.env.IBU_GITOPS_CHAOS_KILLS ?? 50);
const MAX_RUNS = 25;
/** Kills per run: past it the run may finish (a crash loop faster than start-up never would). */
const KILLS_PER_RUN = 10;
const IBU = `${IBU_PATH}/upgrade`;

/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const cond = (i: Ibu | undefined, type: string): string | undefined => {
  const c = i?.status?.conditions?.find(x => x.type === type);
  return c && `${c.status}/${c.reason}`;
};

describe("the agent under SIGKILL", () => {
  let cp: ControlPlane;
  let registry: TestRegistry;
  let seedCluster: TestSysroot;
  let api: KubeApi;
  let seed: string;
  let etcdBinary: string;
  let seedSigningKey: string;
  const etcdOf = (sys: TestSysroot): string =>
    join(sys.ostree.staterootDir("rhcos_4.18.1"), "var", "lib", "etcd");
  /** A Secret's value in a stateroot's etcd, read offline; undefined when there is none. */
  const stored = (dataDir: string, secret: string, entry: string): Promise<string | undefined> =>
    withOfflineEtcd(etcdBinary, dataDir, async etcd => {
      const kv = (await etcd.all()).find(x => x.key.toString().endsWith(`/secrets/${secret}`));
      return (
        kv &&
        decodeStored(kv.value)
          ?.entries.find(e => e.key === entry)
          ?.value.toString()
      );
    });
  /** The private key of the signer only etcd holds (OpenShift's service CA). */
  const signingKey = async (dataDir: string): Promise<string> =>
    (await stored(dataDir, "openshift-service-ca/signing-key", "tls.key")) ??
    `no service CA signing key in ${dataDir}`;
  /** The cluster's kubeadmin password hash, which every run carries into the seed's etcd. */
  const KUBEADMIN_HASH = "$2a$10$chaoschaoschaoschaosch";

  beforeAll(async () => {
    [cp, registry, seedCluster] = await Promise.all([
      ControlPlane.start({ clusters: ["sno"] }),
      TestRegistry.start(),
      makeSysroot("4.18.1", { hostname: "seed" }),
    ]);
    await installAgentCrds(cp.cluster("sno"));
    // The seed carries etcd data with PKI too: kills may land while it is open offline.
    etcdBinary = await writeSeedEtcd(
      etcdOf(seedCluster),
      join(seedCluster.ostree.deployments()[0]!.dir, "etc", "kubernetes", "pki"),
    );
    seedSigningKey = await signingKey(etcdOf(seedCluster));
    ({ seed } = await publishSeed(registry, seedCluster, {
      version: "4.18.1",
      imageNames: ["release", "operator"],
    }));
    api = new KubeApi(cp.cluster("sno").kubeConfig());
    await oadpContent();
    await api.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "kubeadmin", namespace: "kube-system" },
      data: { kubeadmin: Buffer.from(KUBEADMIN_HASH).toString("base64") },
    });
    velero = new VeleroPhaseFixture(api).start();
  }, 180_000);

  afterAll(async () => {
    await velero?.stop();
    await Promise.all([cp?.stop(), registry?.stop(), seedCluster?.remove()]);
  });

  let velero: VeleroPhaseFixture;
  const BACKUPS = "/apis/velero.io/v1/namespaces/openshift-adp/backups";
  const KEPT = "/api/v1/namespaces/default/configmaps/klusterlet-state";

  /** OADP (a DataProtectionApplication the fixture reconciles) and a Backup/Restore pair. */
  async function oadpContent(): Promise<void> {
    for (const name of ["openshift-adp", "openshift-lifecycle-agent"])
      await api.request("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name },
      });
    await api.create(
      "/apis/oadp.openshift.io/v1alpha1/namespaces/openshift-adp/dataprotectionapplications",
      {
        apiVersion: "oadp.openshift.io/v1alpha1",
        kind: "DataProtectionApplication",
        metadata: { name: "dpa", namespace: "openshift-adp" },
        spec: {},
      },
    );
    await api.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "klusterlet-state", namespace: "default" },
      data: { hub: "https://hub.example.com" },
    });
    const meta = (annotations: Record<string, string>): object => ({
      name: "klusterlet",
      namespace: "openshift-adp",
      annotations,
    });
    await api.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "oadp-cm", namespace: "openshift-adp" },
      data: {
        "klusterlet.yaml": [
          {
            apiVersion: "velero.io/v1",
            kind: "Backup",
            metadata: meta({
              "lca.openshift.io/apply-label": "v1/configmaps/default/klusterlet-state",
            }),
            spec: { includedNamespaces: ["default"] },
          },
          {
            apiVersion: "velero.io/v1",
            kind: "Restore",
            metadata: meta({ "lca.openshift.io/apply-wave": "1" }),
            spec: { backupName: "klusterlet" },
          },
        ]
          .map(d => stringify(d))
          .join("---\n"),
      },
    });
  }

  /** Moves the IBU one step along Prep → Upgrade → finalize; true when the run is complete. */
  async function drive(state: { finalizing: boolean }): Promise<boolean> {
    const ibu = await api.get<Ibu>(IBU).catch(() => undefined);
    if (!ibu?.status) return false; // between a reboot and the restore
    for (const type of ["PrepCompleted", "UpgradeCompleted"]) {
      if (cond(ibu, type) === "False/Failed")
        throw new Error(`${type} failed under chaos: ${JSON.stringify(ibu.status.conditions)}`);
    }
    if (/Failed$/.test(cond(ibu, "Idle") ?? ""))
      throw new Error(`Idle failed under chaos: ${JSON.stringify(ibu.status.conditions)}`);
    let stage: string | undefined;
    if (cond(ibu, "Idle") === "True/Idle") {
      if (state.finalizing) return true;
      stage = ibu.spec.stage === "Idle" ? "Prep" : undefined;
    } else if (cond(ibu, "UpgradeCompleted") === "True/Completed" && ibu.spec.stage === "Upgrade") {
      stage = "Idle";
      state.finalizing = true;
    } else if (cond(ibu, "PrepCompleted") === "True/Completed" && ibu.spec.stage === "Prep")
      stage = "Upgrade";
    if (stage) {
      const spec =
        stage === "Prep"
          ? {
              stage,
              seedImageRef: { image: seed, version: "4.18.1" },
              oadpContent: [{ name: "oadp-cm", namespace: "openshift-adp" }],
            }
          : { ...ibu.spec, stage };
      await api.request("PUT", IBU, { ...ibu, spec }); // a conflict just means: look again
    }
    return false;
  }

  const pkiOf = (sys: TestSysroot): string[] => {
    const d = sys.ostree.deployments().find(x => x.stateroot === "rhcos_4.18.1")!;
    return pkiRoots(d.dir, join(sys.ostree.staterootDir("rhcos_4.18.1"), "var"));
  };
  let seedPki: { certs: string[]; keys: string[] };

  it(`converges after at least ${MIN_KILLS} SIGKILLs across full runs (seed ${SEED})`, async () => {
    seedPki = fingerprints(pkiOf(seedCluster));
    const random = prng(SEED);
    let totalKills = 0;
    let run = 0;
    for (; totalKills < MIN_KILLS && run < MAX_RUNS; run++) {
      await api.delete(IBU);
      const cluster = new ClusterState(api, "sno");
      await cluster.configure();
      // The last run's Restore goes: each run's API state after the pivot would have none.
      await api.delete("/apis/velero.io/v1/namespaces/openshift-adp/restores/klusterlet");
      const spoke = await makeSysroot("4.17.0", { hostname: `sno-${run}` });
      const store = mkdtempSync(join(tmpdir(), "ibu-chaos-store-"));
      const logFile = join(spoke.dir, "agent.log");
      const agent = new AgentProcess(
        {
          kubeconfig: cp.cluster("sno").info.kubeconfig,
          sysroot: spoke.dir,
          insecureRegistries: [registry.host],
          imageStore: store,
          logFile,
          etcd: etcdBinary,
          whileOff: () => cluster.becomeSeeds(),
        },
        api,
      );
      agent.start();
      try {
        const state = { finalizing: false };
        let kills = 0;
        let nextKill = Date.now() + 100 + random() * 700;
        const deadline = Date.now() + 90_000;
        for (;;) {
          if (Date.now() > deadline)
            throw new Error(
              `run ${run} did not converge; agent log:\n${readFileSync(logFile, "utf8").slice(-3000)}`,
            );
          if (await drive(state)) break;
          if (kills < KILLS_PER_RUN && Date.now() >= nextKill) {
            if (agent.kill()) kills++;
            nextKill = Date.now() + 100 + random() * 700;
          }
          await new Promise(r => setTimeout(r, 50));
        }
        totalKills += kills;
        const ibu = await api.get<Ibu>(IBU);
        expect(ibu?.status?.conditions?.map(c => `${c.type}=${c.status}`)).toEqual(["Idle=True"]);
        expect(
          bootedDeployment(spoke.ostree, new SandboxBoot(spoke.dir, () => undefined))?.stateroot,
        ).toBe("rhcos_4.18.1");
        expect(spoke.ostree.stateroots()).toEqual(["rhcos_4.18.1"]);
        expect(
          existsSync(
            join(spoke.ostree.staterootDir("rhcos_4.18.1"), "var", "lib", "lca", "workspace"),
          ),
        ).toBe(false);
        expect(agent.reboots).toBeGreaterThanOrEqual(1);
        // The crypto regeneration finished whole, whatever it was killed in the middle of.
        expect(pkiProblems(pkiOf(spoke), [...seedPki.certs, ...seedPki.keys])).toEqual([]);
        // ... and so did the regeneration of what etcd holds; no etcd is left running on it.
        expect(existsSync(`${etcdOf(spoke)}.ibu-gitops-etcd.pid`)).toBe(false);
        const key = await signingKey(etcdOf(spoke));
        expect(key).toContain("PRIVATE KEY");
        expect(key).not.toBe(seedSigningKey);
        // The cluster's kubeadmin password went into the seed's etcd, not the seed's.
        expect(await stored(etcdOf(spoke), "kube-system/kubeadmin", "kubeadmin")).toBe(
          KUBEADMIN_HASH,
        );
        // What LCA carries, deletes and cleans up, whatever the kills interrupted.
        expect(agent.whileOffError).toBeUndefined();
        await cluster.expectCarried();
        expect((await api.get<{ items: unknown[] }>(BACKUPS))?.items).toEqual([]);
        const kept = await api.get<{ metadata: { labels?: object } }>(KEPT);
        expect(kept?.metadata.labels).toBeUndefined();
      } finally {
        await agent.stop();
        await spoke.remove();
        rmSync(store, { recursive: true, force: true });
      }
    }
    console.log(
      `chaos: ${totalKills} SIGKILLs over ${run} runs, every run converged (seed ${SEED})`,
    );
    expect(totalKills).toBeGreaterThanOrEqual(MIN_KILLS);
  }, 900_000);
});
