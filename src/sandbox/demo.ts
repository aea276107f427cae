// `ibu-gitops demo`: the whole system on this machine (a SandboxSite: a hub and N spokes, a
// registry with a seed built on the fly, an agent per spoke, the hub controller and dashboard).
// Driver "gitops" (the default) runs the real hub stack and Argo CD and rolls the fleet out as
// users do: each step is an edit of the fleet file, `synth` and a Git commit, which Argo CD syncs
// to the hub, where TALM and the governance framework carry it to the spokes. Driver "stage" walks the spokes with
// `ibu-gitops stage`, the documented manual way, without the hub stack. Both show a cancel and a rollback. stop() stops everything.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ClusterSummary, FleetSummary } from "../../addon/hub/fleet.js";
import type { KubeObject } from "../../addon/shared/kube.js";
import { DISABLE_AUTO_IMPORT } from "../../addon/shared/report.js";
import { IBU_PATH } from "../../addon/agent/controller.js";
import type { Ibu } from "../../addon/agent/ibu-types.js";
import { bootedDeployment, SandboxBoot } from "../../addon/agent/drivers/boot.js";
import { runStage, type StageArgs } from "../cli/stage.js";
import { progressLine } from "../cli/progress.js";
import { FleetCommits, type FleetDocument } from "./fleet-commits.js";
import { sleep } from "./process.js";
import { FROM_VERSION, SandboxSite, sandboxFleet, TO_VERSION } from "./site.js";

export { FROM_VERSION, TO_VERSION };

/** How the demo moves the spokes: through Git-style commits and the hub stack, or directly. */
export type DemoDriver = "gitops" | "stage";

export interface DemoOptions {
  readonly spokes: number;
  /** @default "gitops" */
  readonly driver?: DemoDriver;
  /** Lines for the user. */
  readonly say: (line: string) => void;
  /** Agent and controller logs (quiet by default). */
  readonly log?: (line: string) => void;
  /** The dashboard's address. @default 127.0.0.1:0 (a free port) */
  readonly listen?: string;
  readonly tty?: boolean;
  /** A pause after each step (a commit's CGUs finished, a `stage` run), in ms, so a person can follow. @default 0 */
  readonly paceMs?: number;
}

/** What the demo leaves behind to check: each spoke's end state and the hub's counts. */
export interface DemoResult {
  readonly spokes: Array<{
    name: string;
    booted: string | undefined;
    stateroots: string[];
    idle: boolean;
    autoImportDisabled: boolean;
  }>;
  readonly summary: unknown;
  /** HTTP status of the dashboard's page. */
  readonly dashboardPage?: number;
  /** The commit messages of the rollout (driver "gitops"). */
  readonly commits?: string[];
  readonly pids: number[];
  readonly dirs: string[];
}

export class Demo {
  readonly site: SandboxSite;
  private commits: FleetCommits | undefined;
  private readonly driver: DemoDriver;

  constructor(private readonly opts: DemoOptions) {
    if (!Number.isInteger(opts.spokes) || opts.spokes < 1 || opts.spokes > 20)
      throw new Error(`--spokes must be a whole number from 1 to 20, not ${opts.spokes}`);
    this.driver = opts.driver ?? "gitops";
    this.site = new SandboxSite({
      spokes: this.spokeNames,
      hubStack: this.driver === "gitops",
      argocd: this.driver === "gitops",
      say: opts.say,
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.listen ? { listen: opts.listen } : {}),
      onBuildStep: (what, done, total, building) =>
        opts.say(
          progressLine(
            done,
            0,
            total,
            building ? `${what}: building ${building} (${done + 1}/${total})` : `${what}: built`,
          ),
        ),
    });
  }

  get spokeNames(): string[] {
    return Array.from({ length: this.opts.spokes }, (_, i) => `spoke-${i + 1}`);
  }

  get hubKubeconfig(): string {
    return this.site.hubKubeconfig;
  }

  /** The dashboard's address, without the token (sign in with the token file's content). */
  get dashboardUrl(): string {
    return this.site.dashboardBase;
  }

  /** A file holding the dashboard viewer's token (0600, removed with the site's folder). */
  get tokenFile(): string {
    const file = join(this.site.work, "dashboard-token");
    if (!existsSync(file)) writeFileSync(file, `${this.site.token}\n`, { mode: 0o600 });
    return file;
  }

  get token(): string {
    return this.site.token;
  }

  /** Starts everything; the fleet is at Idle on the old version afterwards. */
  async start(): Promise<void> {
    const { say } = this.opts;
    say(
      this.driver === "gitops"
        ? "driver: gitops — each step edits the fleet file, runs synth and commits to Git; Argo CD syncs the output to the hub, TALM and ACM's governance framework move the spokes"
        : "driver: stage — each step is an `ibu-gitops stage` run against the spokes (no hub stack)",
    );
    say(
      "binaries: from the cache, or built with Go (control plane about 5 minutes, hub stack about 40, the first time)",
    );
    await this.site.start();
    this.commits = new FleetCommits(
      this.site.hubApi!,
      join(this.site.work, "repo"),
      this.site.argocd,
    );
    // With the stage driver nothing runs the CGUs: the first commit has every group at Upgrade
    // so the hub (and its dashboard) knows the groups from their CGUs, as the old demo did.
    const first = this.driver === "stage" ? "Upgrade" : "Idle";
    await this.commit(
      this.groups(first, first),
      `the fleet, its policies and the addon; every group ${first}`,
    );
    say(`dashboard: ${this.dashboardUrl}  (sign in with the token in ${this.tokenFile})`);
    say(`status:    npx ibu-gitops status --kubeconfig ${this.hubKubeconfig}`);
  }

  /** The demo fleet with the canary group and wave-1 at the stages given. */
  private groups(canary: string, wave1: string): Array<Record<string, unknown>> {
    const names = this.spokeNames;
    return names.length === 1
      ? [{ name: "canary", clusters: names, stage: canary }]
      : [
          { name: "canary", clusters: names.slice(0, 1), stage: canary },
          { name: "wave-1", clusters: names.slice(1), stage: wave1 },
        ];
  }

  private fleet(groups: Array<Record<string, unknown>>): FleetDocument {
    return sandboxFleet({
      name: "demo",
      seed: this.site.seed,
      groups,
      spec: {
        policyName: "group-ibu",
        addon: { image: "quay.example.com/ibu-gitops/ibu-gitops:0.1.0" },
      },
    });
  }

  /** One commit of the fleet file, synthesized and synced to the hub. */
  private async commit(groups: Array<Record<string, unknown>>, message: string): Promise<void> {
    const c = await this.commits!.commit(this.fleet(groups), message);
    const cgus = c.applied.filter(o => o.kind === "ClusterGroupUpgrade").map(o => o.metadata?.name);
    const argo = c.app?.status;
    this.opts.say(
      `\n$ git commit -m "${message}"  # ` +
        (c.sha
          ? `${c.sha.slice(0, 7)}; Argo CD synced it in ${((c.syncMs ?? 0) / 1000).toFixed(1)} s ` +
            `(${argo?.operationState?.phase ?? "?"}, health ${argo?.health?.status ?? "?"})`
          : `commit ${c.n}`) +
        `: ${c.applied.length} objects` +
        `${c.pruned.length ? `, ${c.pruned.length} pruned` : ""}` +
        `${cgus.length ? `; CGUs: ${cgus.join(", ")}` : ""}`,
    );
  }

  /** Waits until every CGU of the last commit has finished, and says how each ended. */
  private async waitCgus(timeoutMs = 15 * 60_000): Promise<void> {
    const api = this.site.hubApi!;
    const cgus = this.commits!.log.at(-1)!.applied.filter(o => o.kind === "ClusterGroupUpgrade");
    const deadline = Date.now() + timeoutMs;
    for (const o of cgus) {
      const path = await api.pathOf(o);
      for (;;) {
        const cgu = await api.get<KubeObject & { status?: CguStatus }>(path);
        const done = cgu?.status?.conditions?.find(c => c.type === "Succeeded");
        if (done) {
          this.opts.say(
            `   CGU ${o.metadata?.name}: ${done.reason} (${(cgu?.status?.clusters ?? []).map(c => `${c.name} ${c.state}`).join(", ") || "no clusters"})`,
          );
          if (done.status !== "True")
            throw new Error(`CGU ${o.metadata?.name} ended ${done.reason}: ${done.message}`);
          break;
        }
        if (Date.now() > deadline)
          throw new Error(`CGU ${o.metadata?.name} did not finish in ${timeoutMs / 1000} s`);
        await sleep(1000);
      }
    }
    await this.pause();
  }

  /** Says whether the previous commit's prep CGU was still running when the upgrade CGU came. */
  private async sayPrepRace(): Promise<void> {
    const api = this.site.hubApi!;
    const prep = this.commits!.log.at(-2)?.applied.find(o => o.kind === "ClusterGroupUpgrade");
    if (!prep) return;
    const cgu = await api.get<KubeObject & { status?: CguStatus }>(await api.pathOf(prep));
    const done = cgu?.status?.conditions?.some(c => c.type === "Succeeded");
    this.opts.say(
      done
        ? `   ${prep.metadata?.name} had already finished: nothing to wait for this time`
        : `   ${prep.metadata?.name} is still running: the upgrade CGU waits for it`,
    );
  }

  /** The pace: time to look at the dashboard between steps. */
  private async pause(): Promise<void> {
    if (this.opts.paceMs) await sleep(this.opts.paceMs);
  }

  /** One `ibu-gitops stage` run; fails the demo when a move is refused or fails. */
  private async stage(
    stage: string,
    contexts: readonly string[],
    extra: Partial<StageArgs> = {},
  ): Promise<void> {
    this.opts.say(
      `\n$ ibu-gitops stage ${stage} ${contexts.map(c => `--context ${c}`).join(" ")} --wait`,
    );
    const code = await runStage(
      {
        stage,
        kubeconfig: this.site.spokesKubeconfig,
        contexts,
        allContexts: false,
        partial: false,
        wait: true,
        timeout: "10m",
        ...extra,
      },
      s => this.opts.say(s.replace(/\n$/, "")),
      this.opts.tty ?? false,
    );
    if (code !== 0) throw new Error(`ibu-gitops stage ${stage} failed for ${contexts.join(", ")}`);
    await this.pause();
  }

  /** The rollout, by the demo's driver; ends with every spoke Idle on the new version. */
  async walk(): Promise<void> {
    if (this.driver === "gitops") await this.walkCommits();
    else await this.walkStages();
    await this.waitReportsIdle();
  }

  /**
   * Commit by commit: canary Prep and a cancel; canary Prep and, before that prep CGU has
   * finished, Upgrade (the upgrade CGU waits for it); canary finalized while wave-1 goes the same
   * way; wave-1 rolled back, finalized, upgraded again and finalized. Each stage move is one
   * commit, as `ibu-gitops synth` checks them.
   */
  private async walkCommits(): Promise<void> {
    const { say } = this.opts;
    const [first = "", ...rest] = this.spokeNames;
    say(`\n== group canary (${first}): Prep, then a cancel, then the upgrade`);
    await this.commit(this.groups("Prep", "Idle"), "canary: Prep");
    await this.waitCgus();
    say(`-- cancel on ${first}: back to Idle, the new stateroot and precached images go`);
    await this.commit(this.groups("Abort", "Idle"), "canary: cancel (Abort)");
    await this.waitCgus();
    await this.commit(this.groups("Prep", "Idle"), "canary: Prep again");
    say(
      "-- the next commit moves canary to Upgrade without waiting for that prep CGU: TALM holds the upgrade CGU until prep completes (blockingCRs)",
    );
    await this.commit(this.groups("Upgrade", "Idle"), "canary: Upgrade");
    await this.sayPrepRace();
    await this.waitCgus();
    // With one spoke, the canary also shows the rollback; otherwise wave-1 does.
    const rollback = rest.length
      ? { on: rest, at: (stage: string) => this.groups("Finalize", stage), name: "wave-1" }
      : { on: [first], at: (stage: string) => this.groups(stage, "Idle"), name: "canary" };
    if (rest.length) {
      say(`\n== group wave-1 (${rest.join(", ")}): Prep and Upgrade; canary finalized`);
      await this.commit(rollback.at("Prep"), "canary: Finalize; wave-1: Prep");
      await this.commit(rollback.at("Upgrade"), "wave-1: Upgrade");
      await this.waitCgus();
    }
    say(`-- rollback on ${rollback.on.join(", ")}: back to ${FROM_VERSION}, then upgraded again`);
    await this.commit(rollback.at("Rollback"), `${rollback.name}: Rollback`);
    await this.waitCgus();
    await this.commit(rollback.at("FinalizeRollback"), `${rollback.name}: finalize the rollback`);
    await this.waitCgus();
    await this.commit(rollback.at("Prep"), `${rollback.name}: Prep`);
    await this.commit(rollback.at("Upgrade"), `${rollback.name}: Upgrade again`);
    await this.waitCgus();
    say(`\n== finalize: every spoke keeps ${TO_VERSION}`);
    await this.commit(this.groups("Finalize", "Finalize"), "Finalize every group");
    await this.waitCgus();
    const repo = this.commits!;
    if (repo.log.at(-1)?.sha) {
      say(`\n== the rollout in Git (${repo.repoURL}), as Argo CD synced it`);
      for (const c of [...repo.log].reverse())
        say(
          `   ${c.sha!.slice(0, 7)} ${c.message}  — synced in ${((c.syncMs ?? 0) / 1000).toFixed(1)} s`,
        );
    }
  }

  /** Group by group with `ibu-gitops stage`: a cancel and a rollback on one spoke each. */
  private async walkStages(): Promise<void> {
    const names = this.spokeNames;
    const seed = { seedImage: this.site.seed, seedVersion: TO_VERSION };
    const canary = names.slice(0, 1);
    const rest = names.slice(1);
    const { say } = this.opts;
    say(`\n== group canary (${canary.join(", ")}): Prep, then a cancel, then the upgrade`);
    await this.stage("Prep", canary, seed);
    say(`-- cancel on ${canary[0]}: back to Idle, the new stateroot and precached images go`);
    await this.stage("Idle", canary);
    await this.stage("Prep", canary, seed);
    await this.stage("Upgrade", canary);
    await this.stage("Idle", canary); // finalize
    const rollbackOn = rest.at(-1) ?? canary[0]!;
    if (rest.length) {
      say(`\n== group wave-1 (${rest.join(", ")}): Prep, Upgrade`);
      await this.stage("Prep", rest, seed);
      await this.stage("Upgrade", rest);
    } else {
      await this.stage("Prep", canary, seed);
      await this.stage("Upgrade", canary);
    }
    say(`-- rollback on ${rollbackOn}: back to ${FROM_VERSION}, then upgraded again`);
    await this.stage("Rollback", [rollbackOn]);
    await this.stage("Idle", [rollbackOn]); // finalize the rollback
    await this.stage("Prep", [rollbackOn], seed);
    await this.stage("Upgrade", [rollbackOn]);
    say(`\n== finalize: every spoke keeps ${TO_VERSION}`);
    await this.stage("Idle", rest.length ? rest : canary);
  }

  /** Until every spoke's report says Idle and no cluster has auto-import disabled. */
  private async waitReportsIdle(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = this.site.controller.summary();
      if (s.byStageState.Idle?.Idle === this.spokeNames.length && s.autoImportDisabled === 0)
        return;
      if (Date.now() > deadline)
        throw new Error(`the hub did not see every spoke Idle: ${JSON.stringify(s.byStageState)}`);
      await sleep(250);
    }
  }

  /** The hub controller's view: the counts and every cluster, as `ibu-gitops status` shows them. */
  hubSummary(): { summary: FleetSummary; clusters: ClusterSummary[] } {
    const c = this.site.controller;
    return { summary: c.summary(), clusters: [...c.fleet.summaries(Date.now(), c.stuckAfterMs)] };
  }

  /** Facts from the running system: each spoke's node and IBU, the hub's annotation and counts. */
  async result(): Promise<DemoResult> {
    const spokes = [];
    for (const s of this.site.spokes) {
      const ibu = await s.api.get<Ibu>(`${IBU_PATH}/upgrade`);
      const mc = await this.site.hubApi!.get<{
        metadata: { annotations?: Record<string, string> };
      }>(`/apis/cluster.open-cluster-management.io/v1/managedclusters/${s.name}`);
      spokes.push({
        name: s.name,
        booted: bootedDeployment(s.sysroot.ostree, new SandboxBoot(s.sysroot.dir, () => undefined))
          ?.stateroot,
        stateroots: s.sysroot.ostree.stateroots(),
        idle: !!ibu?.status?.conditions?.some(c => c.type === "Idle" && c.status === "True"),
        autoImportDisabled: mc?.metadata.annotations?.[DISABLE_AUTO_IMPORT] !== undefined,
      });
    }
    const base = this.site.dashboardBase;
    const res = await fetch(`${base}api/v1/summary`, {
      headers: { Authorization: `Bearer ${this.token}` },
    });
    const page = await fetch(base);
    return {
      spokes,
      summary: await res.json(),
      dashboardPage: page.status,
      commits: (this.commits?.log ?? []).map(c => c.message),
      ...this.resources(),
    };
  }

  /** The processes and folders the demo made so far (all gone after stop()). */
  resources(): Pick<DemoResult, "pids" | "dirs"> {
    return this.site.resources();
  }

  /** Stops everything it started and removes every folder. Safe to call twice. */
  stop(): Promise<void> {
    return this.site.stop();
  }
}

interface CguStatus {
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  clusters?: Array<{ name: string; state: string }>;
}
