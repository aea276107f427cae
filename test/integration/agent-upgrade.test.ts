// The agent through a whole image-based upgrade on real parts: Prep, Upgrade with a pivot and
// reboot into the new stateroot (the IBU restored from the file it was saved to), finalize
// removing the old stateroot; and Rollback back to the original stateroot, then finalize.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { IBU_PATH } from "../../addon/agent/controller.js";
import { bootedDeployment, SandboxBoot } from "../../addon/agent/drivers/boot.js";
import type { Ibu } from "../../addon/agent/ibu-types.js";
import { buildSeed } from "../../addon/agent/seed/build.js";
import { defaultClusterInfo } from "../../addon/agent/seed/format.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { ControlPlane } from "../support/controlplane.js";
import { loadOwnCrds } from "../support/crds.js";
import { pushTinyImage } from "../support/images.js";
import { TestRegistry } from "../support/registry.js";
import { SandboxNode } from "../support/sandbox-node.js";
import { makeSysroot, type TestSysroot } from "../support/sysroot.js";

const IBU = `${IBU_PATH}/upgrade`;

describe("the agent through Upgrade, finalize and Rollback", () => {
  let cp: ControlPlane;
  let registry: TestRegistry;
  let seedCluster: TestSysroot;
  let api: KubeApi;
  let seed: string;
  let spoke: TestSysroot | undefined;
  let sandbox: SandboxNode | undefined;
  let storeRoot: string;
  const log = process.env.IBU_GITOPS_TEST_LOG
    ? (l: string): void => console.error(`[agent] ${l}`)
    : undefined;

  beforeAll(async () => {
    [cp, registry, seedCluster] = await Promise.all([
      ControlPlane.start({ clusters: ["sno"] }),
      TestRegistry.start(),
      makeSysroot("4.18.1", { hostname: "seed" }),
    ]);
    await cp.cluster("sno").installCrds(loadOwnCrds().map(s => s.crd));
    const image = `${registry.host}/ocp/release:4.18.1`;
    await pushTinyImage(image);
    seed = `${registry.host}/seeds/sno:4.18.1`;
    await buildSeed({
      sysroot: seedCluster.dir,
      version: "4.18.1",
      clusterInfo: defaultClusterInfo("4.18.1"),
      images: [image],
      image: seed,
      tlsVerify: false,
    });
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

  async function boot(): Promise<void> {
    spoke = await makeSysroot("4.17.0", { hostname: "sno-1" });
    storeRoot = mkdtempSync(join(tmpdir(), "ibu-store-"));
    sandbox = new SandboxNode(spoke, api, {
      insecureRegistries: [registry.host],
      imageStoreRoot: storeRoot,
      log,
    });
    sandbox.start();
    await waitFor("Idle", i => cond(i, "Idle") === "True/Idle/Idle");
  }

  const cond = (i: Ibu, type: string): string | undefined => {
    const c = i.status?.conditions?.find(x => x.type === type);
    return c && `${c.status}/${c.reason}/${c.message}`;
  };

  async function waitFor(
    what: string,
    pred: (i: Ibu) => boolean,
    timeoutMs = 30_000,
  ): Promise<Ibu> {
    const deadline = Date.now() + timeoutMs;
    let last: Ibu | undefined;
    while (Date.now() < deadline) {
      last = await api.get<Ibu>(IBU).catch(() => undefined);
      if (last && pred(last)) return last;
      await new Promise(r => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last?.status)}`);
  }

  async function setStage(stage: string, extra: object = {}): Promise<void> {
    const current = (await api.get<Ibu>(IBU))!;
    await api.replace(IBU, { ...current, spec: { ...current.spec, stage, ...extra } });
  }

  const booted = (): string | undefined =>
    bootedDeployment(spoke!.ostree, new SandboxBoot(spoke!.dir, () => undefined))?.stateroot;

  it("upgrades: Prep, Upgrade pivots into the new stateroot, finalize removes the old one", async () => {
    await boot();
    await setStage("Prep", { seedImageRef: { image: seed, version: "4.18.1" } });
    await waitFor(
      "PrepCompleted",
      i => cond(i, "PrepCompleted") === "True/Completed/Prep stage completed successfully",
    );

    await setStage("Upgrade");
    const done = await waitFor(
      "UpgradeCompleted",
      i => cond(i, "UpgradeCompleted") !== undefined,
      60_000,
    );
    expect(cond(done, "UpgradeCompleted")).toBe("True/Completed/Upgrade completed");
    expect(cond(done, "UpgradeInProgress")).toBe("False/Completed/Upgrade completed");
    expect(sandbox!.reboots).toBe(1);
    expect(booted()).toBe("rhcos_4.18.1");
    expect(spoke!.ostree.deployments().map(d => d.stateroot)).toEqual([
      "rhcos_4.18.1",
      "rhcos_4.17.0",
    ]);
    expect(done.status?.validNextStages).toEqual(["Idle", "Rollback"]);
    // The history survived the pivot with the file the IBU was saved to.
    expect(
      done.status?.history?.map(h => [h.stage, !!h.completionTime, h.phases.map(p => p.phase)]),
    ).toEqual([
      ["Prep", true, ["Stateroot", "Precache"]],
      ["Upgrade", true, ["PrePivot", "PostPivot"]],
    ]);

    await setStage("Idle");
    const idle = await waitFor("Idle after finalize", i => cond(i, "Idle") === "True/Idle/Idle");
    expect(idle.status?.conditions).toHaveLength(1);
    expect(spoke!.ostree.stateroots()).toEqual(["rhcos_4.18.1"]);
    expect(booted()).toBe("rhcos_4.18.1");
  });

  it("rolls back: after the pivot, Rollback boots the original stateroot; finalize removes the new one", async () => {
    await boot();
    await setStage("Prep", { seedImageRef: { image: seed, version: "4.18.1" } });
    await waitFor(
      "PrepCompleted",
      i => cond(i, "PrepCompleted") === "True/Completed/Prep stage completed successfully",
    );
    await setStage("Upgrade");
    await waitFor(
      "UpgradeCompleted",
      i => cond(i, "UpgradeCompleted") === "True/Completed/Upgrade completed",
      60_000,
    );

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

    await setStage("Idle");
    await waitFor("Idle after finalize", i => cond(i, "Idle") === "True/Idle/Idle");
    expect(spoke!.ostree.stateroots()).toEqual(["rhcos_4.17.0"]);
  });

  it("refuses, through the API's CEL rule, a stage that validNextStages does not offer after an upgrade", async () => {
    await boot();
    await setStage("Prep", { seedImageRef: { image: seed, version: "4.18.1" } });
    await waitFor(
      "PrepCompleted",
      i => cond(i, "PrepCompleted") === "True/Completed/Prep stage completed successfully",
    );
    await setStage("Upgrade");
    await waitFor(
      "UpgradeCompleted",
      i => cond(i, "UpgradeCompleted") === "True/Completed/Upgrade completed",
      60_000,
    );
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
});
