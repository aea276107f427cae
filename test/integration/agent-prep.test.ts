// The spoke agent on a real apiserver, a real ostree sysroot and a real registry: Prep from a
// real seed (stateroot set up, images precached), cancel back to Idle leaving the node as it
// was, and bad seeds failing Prep with LCA's messages.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Agent } from "../../addon/agent/agent.js";
import { condition, IBU, waitForIbu } from "../support/ibu.js";
import { SandboxBoot } from "../../addon/agent/drivers/boot.js";
import { Annotation, type Ibu } from "../../addon/agent/ibu-types.js";
import { run as exec } from "../../addon/agent/exec.js";
import { Node } from "../../addon/agent/node.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { ControlPlane } from "../support/controlplane.js";
import { loadOwnCrds } from "../support/crds.js";
import { pushTinyImage } from "../support/images.js";
import { publishSeed } from "../support/seed-fixture.js";
import { TestRegistry } from "../support/registry.js";
import { makeSysroot, type TestSysroot } from "../support/sysroot.js";

describe("the agent's Prep and cancel", () => {
  let cp: ControlPlane;
  let registry: TestRegistry;
  let authRegistry: TestRegistry;
  let seedCluster: TestSysroot;
  let spoke: TestSysroot;
  let api: KubeApi;
  let storeRoot: string;
  const abort = new AbortController();
  const images: string[] = [];
  let seed: string;
  let run: Promise<void>;

  beforeAll(async () => {
    [cp, registry, authRegistry, seedCluster, spoke] = await Promise.all([
      ControlPlane.start({ clusters: ["sno"] }),
      TestRegistry.start(),
      TestRegistry.start({ auth: { user: "robot", password: "s3cret" } }),
      makeSysroot("4.18.1", { hostname: "seed" }),
      makeSysroot("4.17.0", { hostname: "sno-1" }),
    ]);
    await cp.cluster("sno").installCrds(loadOwnCrds().map(s => s.crd));
    const published = await publishSeed(registry, seedCluster, {
      version: "4.18.1",
      imageNames: ["release", "operator-a", "operator-b"],
    });
    seed = published.seed;
    images.push(...published.images);
    api = new KubeApi(cp.cluster("sno").kubeConfig());
    storeRoot = mkdtempSync(join(tmpdir(), "ibu-store-"));
    const node = new Node({
      ostree: spoke.ostree,
      boot: new SandboxBoot(spoke.dir, () => undefined),
      insecureRegistries: [registry.host, authRegistry.host, "127.0.0.1:1"],
      imageStoreRoot: storeRoot,
    });
    const log = process.env.IBU_GITOPS_TEST_LOG
      ? (l: string): void => console.error(`[agent] ${l}`)
      : undefined;
    run = new Agent({ api, node, resyncSeconds: 2, log }).run(abort.signal);
  }, 180_000);

  afterAll(async () => {
    abort.abort();
    await run;
    await Promise.all([
      cp?.stop(),
      registry?.stop(),
      authRegistry?.stop(),
      seedCluster?.remove(),
      spoke?.remove(),
    ]);
    rmSync(storeRoot, { recursive: true, force: true });
  });

  const waitFor = (what: string, pred: (i: Ibu) => boolean, timeoutMs = 60_000): Promise<Ibu> =>
    waitForIbu(api, what, pred, timeoutMs);

  async function setSpec(spec: object): Promise<void> {
    const current = (await api.get<Ibu>(IBU))!;
    await api.replace(IBU, { ...current, spec });
    if (process.env.IBU_GITOPS_TEST_LOG)
      console.error(`[test] spec set to ${JSON.stringify(spec)}`);
  }

  const cond = condition;

  const nodeState = (): object => ({
    stateroots: spoke.ostree.stateroots(),
    deployments: spoke.ostree.deployments().map(d => `${d.index}:${d.stateroot}:${d.checksum}`),
    workspace: existsSync(
      join(spoke.ostree.staterootDir("rhcos_4.17.0"), "var", "lib", "lca", "workspace"),
    ),
  });

  it("creates upgrade at Idle, with Prep as the only next stage", async () => {
    const i = await waitFor("Idle", x => cond(x, "Idle") === "True/Idle/Idle");
    expect(i.spec.stage).toBe("Idle");
    expect(i.status?.validNextStages).toEqual(["Prep"]);
  });

  it("preps from a real seed: a new stateroot not booted by default, images precached, LCA's conditions", async () => {
    const before = nodeState();
    await setSpec({ stage: "Prep", seedImageRef: { image: seed, version: "4.18.1" } });
    const i = await waitFor("PrepCompleted", x => cond(x, "PrepCompleted") !== undefined);
    expect(cond(i, "PrepCompleted")).toBe("True/Completed/Prep stage completed successfully");
    expect(cond(i, "PrepInProgress")).toBe("False/Completed/Prep completed");
    expect(cond(i, "Idle")).toBe("False/InProgress/In progress");
    expect(i.status?.conditions?.at(-1)?.type).toBe("PrepCompleted");
    expect(i.status?.validNextStages).toEqual(["Idle", "Upgrade"]);
    expect(i.status?.observedGeneration).toBe(i.metadata.generation);
    const [h] = i.status?.history ?? [];
    expect(h?.stage).toBe("Prep");
    expect(h?.completionTime).toBeTruthy();
    expect(h?.phases.map(p => [p.phase, !!p.startTime, !!p.completionTime])).toEqual([
      ["Stateroot", true, true],
      ["Precache", true, true],
    ]);

    const deployments = spoke.ostree.deployments();
    expect(deployments.map(d => d.stateroot)).toEqual(["rhcos_4.17.0", "rhcos_4.18.1"]); // booted one stays default
    expect(readFileSync(join(deployments[1]!.dir, "etc", "hostname"), "utf8")).toBe("seed\n");
    expect(
      existsSync(
        join(spoke.ostree.staterootDir("rhcos_4.18.1"), "var", "lib", "kubelet", "config.json"),
      ),
    ).toBe(true);
    // The cluster's kubeconfig signers are kept for the new stateroot (LCA's kubeconfig-crypto).
    const kept = join(
      spoke.ostree.staterootDir("rhcos_4.18.1"),
      "var",
      "opt",
      "openshift",
      "kubeconfig-crypto",
    );
    expect(readdirSync(kept).sort()).toEqual([
      "admin-kubeconfig-signer.crt",
      "ingress-operator_1700000000.crt",
      "ingress-operator_1700000000.key",
      "kube-apiserver-lb-signer.crt",
      "kube-apiserver-lb-signer.key",
      "kube-apiserver-localhost-signer.crt",
      "kube-apiserver-localhost-signer.key",
      "kube-apiserver-service-network-signer.crt",
      "kube-apiserver-service-network-signer.key",
    ]);
    expect(statSync(join(kept, "kube-apiserver-lb-signer.key")).mode & 0o777).toBe(0o600);
    const { ImageStore } = await import("../../addon/agent/drivers/images.js");
    const store = new ImageStore(storeRoot);
    expect(store.list().sort()).toEqual(images.map(i => ImageStore.nameOf(i)).sort());

    // Cancel: back to Idle, and the node exactly as before Prep.
    await setSpec({ stage: "Idle" });
    const idle = await waitFor("Idle after cancel", x => cond(x, "Idle") === "True/Idle/Idle");
    expect(idle.status?.conditions).toHaveLength(1);
    expect(idle.status?.history ?? []).toEqual([]);
    expect(idle.status?.validNextStages).toEqual(["Prep"]);
    expect(nodeState()).toEqual(before);
    expect(store.list()).toEqual([]);
  });

  const badSeeds: Array<[string, () => Promise<object>, RegExp]> = [
    [
      "a seed that does not exist",
      () => Promise.resolve({ image: `${registry.host}/seeds/missing:4.18.1`, version: "4.18.1" }),
      /^failed to validate seed image info: skopeo inspect .* failed: .*(manifest unknown|not found)/,
    ],
    [
      "an image without the seed labels",
      async () => {
        await pushTinyImage(`${registry.host}/seeds/plain:4.18.1`);
        return { image: `${registry.host}/seeds/plain:4.18.1`, version: "4.18.1" };
      },
      /^failed to validate seed image info: seed image is missing the com.openshift.lifecycle-agent.seed_format_version label, please build a new image using the latest version of the lca-cli$/,
    ],
    [
      "a seed of an older format",
      async () => {
        await pushTinyImage(`${registry.host}/seeds/old:4.18.1`, {
          labels: { "com.openshift.lifecycle-agent.seed_format_version": "3" },
        });
        return { image: `${registry.host}/seeds/old:4.18.1`, version: "4.18.1" };
      },
      /^failed to validate seed image info: seed image format version mismatch: expected 4, got 3$/,
    ],
    [
      "a version that differs from the seed's",
      () => Promise.resolve({ image: seed, version: "4.18.2" }),
      /^version specified in seed image \(4.18.1\) differs from version in spec \(4.18.2\)$/,
    ],
    [
      "a version not newer than the cluster's",
      () => Promise.resolve({ image: seed, version: "4.17.0" }),
      /^failed to validate IBU spec: seed OCP version \(4.17.0\) must be higher than current OCP version \(4.17.0\)$/,
    ],
    [
      "an unreachable registry",
      () => Promise.resolve({ image: "127.0.0.1:1/seeds/sno:4.18.1", version: "4.18.1" }),
      /^failed to validate seed image info: .*connection refused/,
    ],
    [
      "wrong credentials",
      async () => {
        const secret = {
          apiVersion: "v1",
          kind: "Secret",
          type: "kubernetes.io/dockerconfigjson",
          metadata: { name: "seed-pull-secret", namespace: "openshift-lifecycle-agent" },
          data: {
            ".dockerconfigjson": Buffer.from(
              JSON.stringify({
                auths: {
                  [authRegistry.host]: { auth: Buffer.from("robot:wrong").toString("base64") },
                },
              }),
            ).toString("base64"),
          },
        };
        await api.request("POST", "/api/v1/namespaces", {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: "openshift-lifecycle-agent" },
        });
        await api.create("/api/v1/namespaces/openshift-lifecycle-agent/secrets", secret);
        return {
          image: `${authRegistry.host}/seeds/sno:4.18.1`,
          version: "4.18.1",
          pullSecretRef: { name: "seed-pull-secret" },
        };
      },
      /^failed to validate seed image info: .*(unauthorized|authentication required)/i,
    ],
  ];

  it.each(badSeeds)(
    "fails Prep with a clear message for %s, and a cancel leaves the node as before",
    async (_what, seedRef, message) => {
      await waitFor("Idle", x => cond(x, "Idle") === "True/Idle/Idle");
      const before = nodeState();
      await setSpec({ stage: "Prep", seedImageRef: await seedRef() });
      const failed = await waitFor("PrepCompleted", x => cond(x, "PrepCompleted") !== undefined);
      expect(cond(failed, "PrepCompleted")).toBe("False/Failed/Prep failed");
      const inProgress = failed.status!.conditions!.find(c => c.type === "PrepInProgress")!;
      expect(inProgress.reason).toBe("Failed");
      expect(inProgress.message).toMatch(message);
      expect(failed.status?.validNextStages).toEqual(["Idle"]);
      await setSpec({ stage: "Idle" });
      await waitFor("Idle after cancel", x => cond(x, "Idle") === "True/Idle/Idle");
      expect(nodeState()).toEqual(before);
    },
  );

  it("holds a failed cancel until manual-cleanup-done says it was cleaned up by hand", async () => {
    await waitFor("Idle", x => cond(x, "Idle") === "True/Idle/Idle");
    await setSpec({ stage: "Prep", seedImageRef: { image: seed, version: "4.18.1" } });
    await waitFor("PrepCompleted", x => cond(x, "PrepCompleted")?.startsWith("True/") ?? false);
    // Something in LCA's workspace that cannot be removed (an immutable file).
    const ws = join(spoke.ostree.staterootDir("rhcos_4.17.0"), "var", "lib", "lca", "workspace");
    const stuck = join(ws, "held", "file");
    mkdirSync(join(stuck, ".."), { recursive: true });
    writeFileSync(stuck, "x");
    await exec("chattr", ["+i", stuck]);
    try {
      await setSpec({ stage: "Idle" });
      const failed = await waitFor(
        "AbortFailed",
        x => cond(x, "Idle")?.includes("/AbortFailed/") ?? false,
      );
      expect(cond(failed, "Idle")).toMatch(
        /^False\/AbortFailed\/failed to remove the workspace: .+ Perform cleanup manually then add 'lca.openshift.io\/manual-cleanup-done' annotation to ibu CR to transition back to Idle$/i,
      );
      // Every other step ran: the new stateroot is gone.
      expect(spoke.ostree.stateroots()).toEqual(["rhcos_4.17.0"]);
      // Not retried on every resync (LCA waits 5 minutes): still failed after two resyncs.
      await new Promise(r => setTimeout(r, 4500));
      expect(cond((await api.get<Ibu>(IBU))!, "Idle")).toBe(cond(failed, "Idle"));
    } finally {
      await exec("chattr", ["-i", stuck]);
    }
    // The user cleaned up by hand and says so.
    const current = (await api.get<Ibu>(IBU))!;
    await api.replace(IBU, {
      ...current,
      metadata: { ...current.metadata, annotations: { [Annotation.manualCleanupDone]: "" } },
    });
    const idle = await waitFor("Idle", x => cond(x, "Idle") === "True/Idle/Idle");
    expect(idle.metadata.annotations?.[Annotation.manualCleanupDone]).toBeUndefined();
    expect(existsSync(ws)).toBe(false);
  });
});
