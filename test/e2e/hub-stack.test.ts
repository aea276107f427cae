// Rollouts on the real hub stack: every commit is a fleet file → `synth` → a Git commit that the
// real Argo CD syncs to a hub where ACM's governance-policy-propagator, OCM's placement, work
// agent and addon-manager, the PlacementRule controller and TALM carry it to the spokes, whose
// agents do the node work. Each scenario asserts what users see: CGU/IBGU status, policy compliance, the
// spoke's IBU, the ManagedCluster's auto-import annotation and the hub report.
//
// The spokes are shared by the scenarios, which run in order (one IBU per spoke):
//   spoke-1  cgu: Prep, then Upgrade committed before the prep CGU finished (its agent held
//            down meanwhile; the upgrade CGU waits for prep) → Finalize
//   spoke-2  cgu: Prep → Upgrade while its agent is down (the CGU times out; the hub controller
//            re-enables auto-import once the upgrade completes) → Rollback → FinalizeRollback;
//            then ibgu: Prep → Upgrade → FinalizeUpgrade, the plan appended commit by commit
//   spoke-3  cgu, with ghost: Prep (ghost times out) → Upgrade (ghost left out)
//   spoke-4  cgu: Prep → Abort (cancel); then the same ibgu group as spoke-2
//   ghost    a ManagedCluster with no spoke behind it
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Ibu } from "../../addon/agent/ibu-types.js";
import { DISABLE_AUTO_IMPORT } from "../../addon/shared/report.js";
import type { KubeApi, KubeObject } from "../../addon/shared/kube.js";
import { FleetCommits, type FleetDocument } from "../../src/sandbox/fleet-commits.js";
import { registerManagedCluster } from "../../src/sandbox/hubstack.js";
import { SandboxSite, sandboxFleet, TO_VERSION, FROM_VERSION } from "../../src/sandbox/site.js";
import { IBU } from "../support/ibu.js";

const UPGRADES = "ztp-upgrades";
const POLICIES = "ztp-group";
const SPOKES = ["spoke-1", "spoke-2", "spoke-3", "spoke-4"] as const;
const WAVE3 = "wave-3-far-edge-sites-emea-north-region-b";

let site: SandboxSite;
let hub: KubeApi;
let cgu: FleetCommits;
let ibgu: FleetCommits;

interface Cgu extends KubeObject {
  spec: { clusters?: string[] };
  status?: {
    conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
    clusters?: Array<{ name: string; state: string }>;
    remediationPlan?: string[][];
  };
}

beforeAll(async () => {
  site = new SandboxSite({
    spokes: [...SPOKES],
    hubStack: true,
    argocd: true,
    clusterLabels: () => ({ "sandbox.ibu-gitops.dev/spoke": "true" }),
    ...(process.env.IBU_GITOPS_E2E_LOG ? { log: (l: string) => console.error(l) } : {}),
  });
  await site.start();
  hub = site.hubApi!;
  // A cluster ACM knows but that never answers: no framework addon, no agent.
  await registerManagedCluster(hub, "ghost");
  cgu = new FleetCommits(hub, join(site.work, "repo-cgu"), site.argocd);
}, 900_000);

afterAll(async () => {
  await site?.stop();
}, 120_000);

/**
 * The ibu-gitops addon, installed through OCM's addon-manager from our AddOnTemplate on the
 * clusters that have a spoke (the ghost has no work agent to apply it).
 */
const ADDON = {
  addon: {
    image: "quay.example.com/ibu-gitops/ibu-gitops:0.1.0",
    clusterSelector: { matchLabels: { "sandbox.ibu-gitops.dev/spoke": "true" } },
    maxConcurrency: "50%",
  },
};

/** A cgu-flavour fleet of the spokes, every group at the stage given. */
function cguFleet(
  groups: Array<Record<string, unknown>>,
  rollout: Record<string, unknown> = {},
  more: Record<string, unknown> = {},
): FleetDocument {
  return sandboxFleet({
    name: "e2e-cgu",
    seed: site.seed,
    groups,
    namespaces: { policy: POLICIES, upgrade: UPGRADES },
    timeoutMinutes: 5,
    rollout,
    spec: { policyName: "group-ibu", ...more },
  });
}

/** An object as a failure shows it: status first, without managedFields. */
function shown(o: unknown): string {
  if (!o || typeof o !== "object") return JSON.stringify(o);
  const { status, spec, metadata } = o as { status?: unknown; spec?: unknown; metadata?: object };
  const meta = metadata ? { ...metadata, managedFields: undefined } : undefined;
  return JSON.stringify({ status, spec, metadata: meta }).slice(0, 6000);
}

/** Reads until `ok` holds (every 500 ms); on timeout the error shows what it last read. */
async function poll<T>(
  what: string,
  read: () => Promise<T | undefined>,
  ok: (v: T) => boolean,
  timeoutMs = 240_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read().catch(() => undefined);
    if (last !== undefined && ok(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last: ${shown(last)}`);
    await new Promise(r => setTimeout(r, 500));
  }
}

const cond = (o: Cgu | undefined, type: string) =>
  o?.status?.conditions?.find(c => c.type === type);

function readCgu(name: string): Promise<Cgu | undefined> {
  return hub.get<Cgu>(
    `/apis/ran.openshift.io/v1alpha1/namespaces/${UPGRADES}/clustergroupupgrades/${name}`,
  );
}

/** The CGU of a stage step as the generator named it in the last commit. */
function cguOf(group: string, step: string): string {
  const last = cgu.log.at(-1)!;
  const o = last.applied.find(
    x =>
      x.kind === "ClusterGroupUpgrade" &&
      (x.metadata?.labels as Record<string, string>)["ibu-gitops.dev/group"] === group &&
      ((x.spec as { managedPolicies: string[] }).managedPolicies.at(-1) ?? "").includes(
        `-${step === "abort" ? "finalize" : step}-`,
      ),
  );
  if (!o) throw new Error(`no ${step} CGU of ${group} in commit ${last.n}`);
  return o.metadata!.name!;
}

async function cguSucceeded(name: string, timeoutMs = 300_000): Promise<Cgu> {
  return poll(
    `CGU ${name} Succeeded=True`,
    () => readCgu(name),
    c => cond(c, "Succeeded")?.status === "True",
    timeoutMs,
  );
}

function spokeIbu(spoke: string): Promise<Ibu | undefined> {
  return site.spoke(spoke).api.get<Ibu>(IBU);
}

const ibuCondition = (i: Ibu | undefined, type: string): boolean =>
  !!i?.status?.conditions?.some(c => c.type === type && c.status === "True");

async function annotations(cluster: string): Promise<Record<string, string>> {
  const mc = await hub.get<KubeObject>(
    `/apis/cluster.open-cluster-management.io/v1/managedclusters/${cluster}`,
  );
  return (mc?.metadata?.annotations as Record<string, string> | undefined) ?? {};
}

async function policyCompliance(policy: string, cluster: string): Promise<string | undefined> {
  const p = await hub.get<{
    status?: { status?: Array<{ clustername: string; compliant?: string }> };
  }>(`/apis/policy.open-cluster-management.io/v1/namespaces/${POLICIES}/policies/${policy}`);
  return p?.status?.status?.find(s => s.clustername === cluster)?.compliant;
}

/** The cgu fleet's groups at each commit; every later commit repeats the earlier groups' specs. */
const groups = {
  canary: (stage: string) => ({ name: "canary", clusters: ["spoke-1"], stage }),
  wave1: (stage: string) => ({ name: "wave-1", clusters: ["spoke-2"], stage }),
  wave2: (stage: string) => ({ name: "wave-2", clusters: ["spoke-3", "ghost"], stage }),
  // A long group name: its CGUs' names are shortened to the budget that leaves room for what
  // TALM derives from them (batch PlacementRules `<cgu>-<policy>-placement-<5>`, whose names the
  // PlacementRule controller writes into a label value of at most 63).
  wave3: (stage: string) => ({ name: WAVE3, clusters: ["spoke-4"], stage }),
};

/**
 * Two-minute prep and upgrade CGUs (TALM counts minutes), so the timeouts these scenarios
 * provoke come quickly while a spoke that answers still has time to finish.
 */
const SHORT = {
  prep: { maxConcurrency: 10, timeout: 2 },
  upgrade: { maxConcurrency: 10, timeout: 2 },
};

describe("cgu flavour on the real hub stack", () => {
  it("Upgrade committed before the prep CGU finished: the upgrade CGU waits for prep, then upgrades", async () => {
    const others = [groups.wave1("Idle"), groups.wave2("Idle"), groups.wave3("Idle")];
    // spoke-1's agent is down until both commits are in: its Prep cannot finish before the
    // Upgrade commit lands, whatever the machine's speed (a Prep takes seconds here).
    await site.spoke("spoke-1").sandbox.stop();
    await cgu.commit(cguFleet([groups.canary("Prep"), ...others], {}, ADDON), "canary to Prep");
    await cgu.commit(
      cguFleet([groups.canary("Upgrade"), ...others], {}, ADDON),
      "canary to Upgrade",
    );
    const prep = cguOf("canary", "prep");
    const upgrade = cguOf("canary", "upgrade");
    // While prep runs, the upgrade CGU is held by TALM's blocking CRs instead of racing it.
    const held = await poll(
      `${upgrade} held by ${prep}`,
      () => readCgu(upgrade),
      c => cond(c, "Progressing") !== undefined,
    );
    expect(cond(await readCgu(prep), "Succeeded")).toBeUndefined();
    expect(cond(held, "Progressing")?.reason).toBe("IncompleteBlockingCR");
    expect(ibuCondition(await spokeIbu("spoke-1"), "UpgradeInProgress")).toBe(false);
    site.spoke("spoke-1").sandbox.start();
    const prepDone = await cguSucceeded(prep);
    expect(prepDone.status?.clusters).toEqual([{ name: "spoke-1", state: "complete" }]);
    const up = await cguSucceeded(upgrade);
    expect(cond(up, "Succeeded")?.reason).toBe("Completed");
    expect(up.status?.clusters).toEqual([{ name: "spoke-1", state: "complete" }]);
    const ibu = await spokeIbu("spoke-1");
    expect(ibu?.spec.stage).toBe("Upgrade");
    expect(ibuCondition(ibu, "UpgradeCompleted")).toBe(true);
    expect(await policyCompliance("group-ibu-upgrade-stage-policy", "spoke-1")).toBe("Compliant");
    // TALM's afterCompletion removed what its beforeEnable added.
    expect((await annotations("spoke-1"))[DISABLE_AUTO_IMPORT]).toBeUndefined();
  }, 900_000);

  it("installs the agent on every spoke through the addon-manager and the work agent", async () => {
    for (const spoke of SPOKES) {
      const work = await poll(
        `the addon's ManifestWork for ${spoke} Applied`,
        async () =>
          (
            await hub.list<
              KubeObject & { status?: { conditions?: Array<{ type: string; status: string }> } }
            >(`/apis/work.open-cluster-management.io/v1/namespaces/${spoke}/manifestworks`)
          ).find(w => (w.metadata?.name ?? "").includes("ibu-gitops")),
        w => !!w?.status?.conditions?.some(c => c.type === "Applied" && c.status === "True"),
      );
      expect(work?.metadata?.name).toBeDefined();
      const deployments = await site
        .spoke(spoke)
        .api.list<KubeObject>(
          `/apis/apps/v1/namespaces/open-cluster-management-agent-addon/deployments`,
        );
      expect(deployments.map(d => d.metadata?.name)).toContain("ibu-gitops-agent");
    }
  }, 600_000);

  it("finalize: the spoke is Idle on the new version, auto-import enabled, the hub report Idle", async () => {
    await cgu.commit(
      cguFleet(
        [
          groups.canary("Finalize"),
          groups.wave1("Prep"),
          groups.wave2("Prep"),
          groups.wave3("Prep"),
        ],
        SHORT,
        ADDON,
      ),
      "finalize canary; the other groups to Prep",
    );
    // The previous commit's CGUs are pruned (Argo CD's prune), the finalize CGU replaces them.
    const before = cgu.log.at(-2)!.applied.filter(o => o.kind === "ClusterGroupUpgrade");
    expect(
      cgu.log
        .at(-1)!
        .pruned.map(o => o.metadata?.name)
        .sort(),
    ).toEqual(before.map(o => o.metadata?.name).sort());
    for (const o of before)
      await poll(
        `CGU ${o.metadata!.name} pruned by Argo CD`,
        async () => ((await readCgu(o.metadata!.name!)) ? undefined : "gone"),
        v => v === "gone",
      );
    await cguSucceeded(cguOf("canary", "finalize"));
    const ibu = await poll(
      "spoke-1 Idle",
      () => spokeIbu("spoke-1"),
      i => ibuCondition(i, "Idle"),
    );
    expect(ibu?.spec.stage).toBe("Idle");
    expect(site.spoke("spoke-1").sysroot.ostree.stateroots()).toEqual([`rhcos_${TO_VERSION}`]);
    expect((await annotations("spoke-1"))[DISABLE_AUTO_IMPORT]).toBeUndefined();
    await poll(
      "the hub report of spoke-1 Idle",
      () => Promise.resolve([...site.controller.fleet.summaries(Date.now(), 60_000)]),
      list => list.some(c => c.name === "spoke-1" && c.stage === "Idle" && c.state === "Idle"),
    );
  }, 900_000);

  it("a cluster whose prep batch times out is left out of its group's upgrade CGU", async () => {
    // wave-1 and wave-3 prepare; wave-2's prep CGU waits for the ghost until TALM times it out.
    await cguSucceeded(cguOf("wave-1", "prep"));
    await cguSucceeded(cguOf(WAVE3, "prep"));
    // wave-1's agent goes down before its Upgrade: that CGU will time out (a later test). It is
    // committed now so that its timeout runs while wave-2's prep times out (TALM notices a
    // timeout on its five-minute requeue: the two waits overlap instead of adding up).
    await site.spoke("spoke-2").sandbox.stop();
    await cgu.commit(
      cguFleet(
        [
          groups.canary("Finalize"),
          groups.wave1("Upgrade"),
          groups.wave2("Prep"),
          groups.wave3("Abort"),
        ],
        SHORT,
        ADDON,
      ),
      "wave-1 to Upgrade; cancel wave-3",
    );
    const prep = cguOf("wave-2", "prep");
    const done = await poll(
      `${prep} finished`,
      () => readCgu(prep),
      c => cond(c, "Succeeded") !== undefined,
      420_000,
    );
    expect(cond(done, "Succeeded")?.reason).toBe("TimedOut");
    expect(done.status?.clusters).toContainEqual({ name: "spoke-3", state: "complete" });
    expect(done.status?.clusters?.some(c => c.name === "ghost" && c.state === "complete")).toBe(
      false,
    );
    expect(ibuCondition(await spokeIbu("spoke-3"), "PrepCompleted")).toBe(true);

    await cgu.commit(
      cguFleet(
        [
          groups.canary("Finalize"),
          groups.wave1("Upgrade"),
          groups.wave2("Upgrade"),
          groups.wave3("Abort"),
        ],
        SHORT,
        ADDON,
      ),
      "wave-2 to Upgrade",
    );
    const upgrade = await cguSucceeded(cguOf("wave-2", "upgrade"));
    expect(upgrade.status?.clusters).toEqual([{ name: "spoke-3", state: "complete" }]);
    expect(ibuCondition(await spokeIbu("spoke-3"), "UpgradeCompleted")).toBe(true);
    expect((await annotations("ghost"))[DISABLE_AUTO_IMPORT]).toBeUndefined();
  }, 900_000);

  it("cancel after Prep: the abort CGU takes the spoke back to Idle on the old version", async () => {
    await cguSucceeded(cguOf(WAVE3, "abort"));
    const ibu = await poll(
      "spoke-4 Idle",
      () => spokeIbu("spoke-4"),
      i => ibuCondition(i, "Idle"),
    );
    expect(ibu?.spec.stage).toBe("Idle");
    expect(site.spoke("spoke-4").sysroot.ostree.stateroots()).toEqual([`rhcos_${FROM_VERSION}`]);
    expect((await annotations("spoke-4"))[DISABLE_AUTO_IMPORT]).toBeUndefined();
  }, 600_000);

  it("an upgrade CGU that times out: auto-import stays disabled until the upgrade completes, then the hub controller enables it", async () => {
    const name = cguOf("wave-1", "upgrade");
    const done = await poll(
      `${name} finished`,
      () => readCgu(name),
      c => cond(c, "Succeeded") !== undefined,
      420_000,
    );
    expect(cond(done, "Succeeded")?.reason).toBe("TimedOut");
    // TALM's beforeEnable added it; afterCompletion never runs for a timed-out cluster.
    expect((await annotations("spoke-2"))[DISABLE_AUTO_IMPORT]).toBe("true");
    site.spoke("spoke-2").sandbox.start();
    await poll(
      "spoke-2 UpgradeCompleted",
      () => spokeIbu("spoke-2"),
      i => ibuCondition(i, "UpgradeCompleted"),
    );
    await poll(
      "the hub controller removes disable-auto-import from spoke-2",
      () => annotations("spoke-2"),
      a => a[DISABLE_AUTO_IMPORT] === undefined,
    );
  }, 900_000);

  it("rollback and its finalize: back on the old version, Idle, auto-import enabled", async () => {
    await cgu.commit(
      cguFleet(
        [
          groups.canary("Finalize"),
          groups.wave1("Rollback"),
          groups.wave2("Upgrade"),
          groups.wave3("Idle"),
        ],
        SHORT,
        ADDON,
      ),
      "roll wave-1 back",
    );
    await cguSucceeded(cguOf("wave-1", "rollback"));
    expect(ibuCondition(await spokeIbu("spoke-2"), "RollbackCompleted")).toBe(true);
    await cgu.commit(
      cguFleet(
        [
          groups.canary("Finalize"),
          groups.wave1("FinalizeRollback"),
          groups.wave2("Upgrade"),
          groups.wave3("Idle"),
        ],
        SHORT,
        ADDON,
      ),
      "finalize wave-1's rollback",
    );
    await cguSucceeded(cguOf("wave-1", "finalize"));
    await poll(
      "spoke-2 Idle",
      () => spokeIbu("spoke-2"),
      i => ibuCondition(i, "Idle"),
    );
    expect(site.spoke("spoke-2").sysroot.ostree.stateroots()).toEqual([`rhcos_${FROM_VERSION}`]);
    expect((await annotations("spoke-2"))[DISABLE_AUTO_IMPORT]).toBeUndefined();
  }, 900_000);
});

describe("ibgu flavour on the real hub stack", () => {
  const IBGU_NS = "ztp-upgrades-ibgu";

  function ibguFleet(stage: string): FleetDocument {
    return sandboxFleet({
      name: "e2e-ibgu",
      seed: site.seed,
      flavour: "ibgu",
      groups: [{ name: "main", selector: { matchLabels: { "ibu-group": "main" } }, stage }],
      namespaces: { policy: "ztp-group-ibgu", upgrade: IBGU_NS },
    });
  }

  interface Ibgu extends KubeObject {
    spec: { plan: Array<{ actions: string[] }> };
    status?: {
      conditions?: Array<{ type: string; status: string; reason: string }>;
      clusters?: Array<{ name: string; completedActions?: Array<{ action: string }> }>;
    };
  }

  async function readIbgu(): Promise<Ibgu> {
    const list = await hub.list<Ibgu>(
      `/apis/lcm.openshift.io/v1alpha1/namespaces/${IBGU_NS}/imagebasedgroupupgrades`,
    );
    if (list.length !== 1) throw new Error(`expected one IBGU, found ${list.length}`);
    return list[0]!;
  }

  const completed = (i: Ibgu, cluster: string): string[] =>
    (i.status?.clusters?.find(c => c.name === cluster)?.completedActions ?? []).map(a => a.action);

  beforeAll(async () => {
    ibgu = new FleetCommits(hub, join(site.work, "repo-ibgu"), site.argocd);
    for (const c of ["spoke-2", "spoke-4"])
      await hub.mergePatch(`/apis/cluster.open-cluster-management.io/v1/managedclusters/${c}`, {
        metadata: { labels: { "ibu-group": "main" } },
      });
  });

  it("appends the plan commit by commit: Prep, Upgrade, FinalizeUpgrade", async () => {
    for (const [stage, action] of [
      ["Prep", "Prep"],
      ["Upgrade", "Upgrade"],
      ["Finalize", "FinalizeUpgrade"],
    ] as const) {
      await ibgu.commit(ibguFleet(stage), `main to ${stage}`);
      const state = await poll(
        `IBGU ${action} completed on spoke-2 and spoke-4`,
        readIbgu,
        i => ["spoke-2", "spoke-4"].every(c => completed(i, c).includes(action)),
        900_000,
      );
      expect(state.spec.plan.at(-1)?.actions).toContain(action);
    }
    for (const c of ["spoke-2", "spoke-4"]) {
      const ibu = await poll(
        `${c} Idle`,
        () => spokeIbu(c),
        i => ibuCondition(i, "Idle"),
      );
      expect(ibu?.spec.stage).toBe("Idle");
      expect(site.spoke(c).sysroot.ostree.stateroots()).toEqual([`rhcos_${TO_VERSION}`]);
      expect((await annotations(c))[DISABLE_AUTO_IMPORT]).toBeUndefined();
    }
  }, 2_700_000);
});

describe("Argo CD synced every commit of both fleets", () => {
  it("each commit is in Git, synced by Argo CD's automated sync, with no object shared by two apps", async () => {
    for (const commits of [cgu, ibgu]) {
      expect(commits.log.length).toBeGreaterThan(0);
      const gitLog = execFileSync("git", ["log", "--format=%H %s", "main"], {
        cwd: commits.dir,
        encoding: "utf8",
      });
      for (const c of commits.log) {
        expect(gitLog).toContain(`${c.sha} ${c.message}`);
        const op = c.app?.status?.operationState;
        expect(op?.phase).toBe("Succeeded");
        expect(op?.syncResult?.revision).toBe(c.sha);
        // Automated sync (not a sync this test asked for).
        expect(JSON.stringify(op)).toContain('"automated":true');
      }
      // No deadlock on health: the cgu fleet's waves synced although its app was not Healthy (inform
      // policies NonCompliant until a CGU enforces them, Degraded to Argo CD; the hub
      // controller's Deployment never rolls out without a kubelet).
      if (commits === cgu)
        expect(commits.log.some(c => c.app?.status?.health?.status !== "Healthy")).toBe(true);
      const app = await site.argocd!.application(commits.log.at(-1)!.app!.metadata!.name!);
      expect(app?.status?.sync?.status).toBe("Synced");
      // Two fleets on one hub: no SharedResourceWarning, no error condition.
      expect(app?.status?.conditions ?? []).toEqual([]);
    }
  });
});
