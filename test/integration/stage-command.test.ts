// `ibu-gitops stage` against two sandboxed spokes with real agents, through one kubeconfig
// with a context per cluster: moves LCA would refuse change nothing and say why; allowed moves
// are made and followed with --wait to their end, through a pivot.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IBU_PATH } from "../../addon/agent/controller.js";
import type { Ibu } from "../../addon/agent/ibu-types.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { runStage, type StageArgs } from "../../src/cli/stage.js";
import { writeContextsKubeconfig } from "../../src/sandbox/cluster.js";
import { ControlPlane } from "../support/controlplane.js";
import { loadOwnCrds } from "../support/crds.js";
import { TestRegistry } from "../support/registry.js";
import { SandboxNode } from "../support/sandbox-node.js";
import { publishSeed } from "../support/seed-fixture.js";
import { makeSysroot, type TestSysroot } from "../support/sysroot.js";

const IBU = `${IBU_PATH}/upgrade`;
const CLUSTERS = ["sno-a", "sno-b"] as const;

describe("ibu-gitops stage", () => {
  let cp: ControlPlane;
  let registry: TestRegistry;
  let seedCluster: TestSysroot;
  let seed: string;
  let kubeconfig: string;
  let work: string;
  const spokes: Record<string, { sysroot: TestSysroot; sandbox: SandboxNode; api: KubeApi }> = {};

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "ibu-stage-"));
    [cp, registry, seedCluster] = await Promise.all([
      ControlPlane.start({ clusters: [...CLUSTERS] }),
      TestRegistry.start(),
      makeSysroot("4.18.1", { hostname: "seed" }),
    ]);
    ({ seed } = await publishSeed(registry, seedCluster, {
      version: "4.18.1",
      imageNames: ["release"],
    }));
    for (const name of CLUSTERS) {
      const cluster = cp.cluster(name);
      await cluster.installCrds(loadOwnCrds().map(s => s.crd));
      const sysroot = await makeSysroot("4.17.0", { hostname: name });
      const api = new KubeApi(cluster.kubeConfig());
      const sandbox = new SandboxNode(sysroot, api, {
        insecureRegistries: [registry.host],
        imageStoreRoot: mkdtempSync(join(work, "store-")),
      });
      sandbox.start();
      spokes[name] = { sysroot, sandbox, api };
    }
    // One kubeconfig, a context per cluster, as an operator keeps them.
    kubeconfig = join(work, "kubeconfig");
    writeContextsKubeconfig(
      kubeconfig,
      CLUSTERS.map(n => cp.cluster(n)),
    );
    for (const name of CLUSTERS) await idle(name);
  }, 180_000);

  afterAll(async () => {
    for (const s of Object.values(spokes)) await s.sandbox.stop();
    for (const s of Object.values(spokes)) await s.sysroot.remove();
    await Promise.all([cp?.stop(), registry?.stop(), seedCluster?.remove()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function idle(name: string): Promise<void> {
    for (let i = 0; i < 300; i++) {
      const ibu = await spokes[name]!.api.get<Ibu>(IBU);
      if (ibu?.status?.conditions?.some(c => c.type === "Idle" && c.status === "True")) return;
      await new Promise(r => setTimeout(r, 100));
    }
    throw new Error(`${name} never became Idle`);
  }

  async function stage(
    args: Partial<StageArgs> & { stage: string },
  ): Promise<{ code: number; out: string }> {
    let out = "";
    const code = await runStage(
      {
        kubeconfig,
        contexts: [],
        allContexts: false,
        partial: false,
        wait: false,
        timeout: "2m",
        ...args,
      },
      s => (out += s),
      false,
    );
    return { code, out };
  }

  const specStage = async (name: string): Promise<string | undefined> =>
    (await spokes[name]!.api.get<Ibu>(IBU))?.spec.stage;

  it("refuses a move LCA would refuse, says why, and changes nothing", async () => {
    const r = await stage({ stage: "Upgrade", allContexts: true });
    expect(r.code).toBe(1);
    expect(r.out).toContain("sno-a  Idle Idle → Upgrade: not allowed: it may move to Prep only");
    expect(r.out).toContain("sno-b  Idle Idle → Upgrade: not allowed: it may move to Prep only");
    expect(r.out).toMatch(/nothing changed: 2 of 2 cluster\(s\) may not move to Upgrade/);
    expect(await specStage("sno-a")).toBe("Idle");
    // Prep without a seed is refused too, before anything is written.
    const noSeed = await stage({ stage: "Prep", contexts: ["sno-a"] });
    expect(noSeed.code).toBe(1);
    expect(noSeed.out).toContain("Prep needs a seed: --seed-image and --seed-version");
    await expect(stage({ stage: "Prepare", contexts: ["sno-a"] })).rejects.toThrow(
      /"Prepare" is not a stage/,
    );
    await expect(stage({ stage: "Prep", contexts: ["nope"] })).rejects.toThrow(
      /no context "nope" \(have: sno-a, sno-b\)/,
    );
  });

  it("moves every context to Prep and waits until each completed", async () => {
    const r = await stage({
      stage: "Prep",
      allContexts: true,
      seedImage: seed,
      seedVersion: "4.18.1",
      wait: true,
    });
    expect(r.out).toContain("sno-a  Idle → Prep: requested");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/sno-b {2}Prep Completed: Prep stage completed successfully/);
    for (const name of CLUSTERS) expect(await specStage(name)).toBe("Prep");
  });

  it("with --partial moves the clusters that may move; --wait follows one through its pivot", async () => {
    const refused = await stage({ stage: "Rollback", allContexts: true, partial: true });
    expect(refused.code).toBe(1);
    expect(refused.out).toContain(
      "not allowed: it may move to Idle or Upgrade only (Prep Completed: Prep stage completed successfully)",
    );
    const r = await stage({ stage: "Upgrade", contexts: ["sno-a"], wait: true });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/sno-a {2}Upgrade Completed: Upgrade completed/);
    expect(spokes["sno-a"]!.sandbox.reboots).toBe(1);
    expect(await specStage("sno-b")).toBe("Prep");
    // Idle: a finalize on sno-a, a cancel on sno-b.
    const back = await stage({ stage: "Idle", allContexts: true, wait: true });
    expect(back.code, back.out).toBe(0);
    expect(spokes["sno-a"]!.sysroot.ostree.stateroots()).toEqual(["rhcos_4.18.1"]);
    expect(spokes["sno-b"]!.sysroot.ostree.stateroots()).toEqual(["rhcos_4.17.0"]);
  });
});
