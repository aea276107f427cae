// Benchmark of rollouts on the real hub stack with Argo CD: start time of a site (hub + 2 spokes,
// every controller), resident memory per process, the latency from a Git commit to the end of
// Argo CD's sync and to the spoke's `spec.stage` change (p50/p95 over repeated Prep/cancel
// commits), and each stage's time beyond
// the agent's own node work (CGU start→finish minus the IBU's own stage time). With --rebuild,
// also the warm rebuild of every hub-stack binary into a scratch cache (the shared Go build cache
// kept), which is what a pin change costs.
// Run: npx tsx test/bench/hubstack.ts [--rounds 3] [--rebuild]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Ibu } from "../../addon/agent/ibu-types.js";
import type { KubeObject } from "../../addon/shared/kube.js";
import { FleetCommits, type FleetDocument } from "../../src/sandbox/fleet-commits.js";
import { ensureHubStackBinaries } from "../../src/sandbox/hubstack-build.js";
import { rssBytes, sleep } from "../../src/sandbox/process.js";
import { SandboxSite, sandboxFleet } from "../../src/sandbox/site.js";
import { IBU } from "../support/ibu.js";

const MiB = 1024 * 1024;
const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const ROUNDS = Number(arg("--rounds") ?? 3);
const SPOKES = ["spoke-1", "spoke-2"];

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

async function rebuild(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "ibu-gitops-bench-hubstack-"));
  const before = process.env.IBU_GITOPS_CACHE;
  process.env.IBU_GITOPS_CACHE = scratch;
  try {
    const t0 = performance.now();
    await ensureHubStackBinaries();
    console.log(
      `warm rebuild of the hub stack (Go build cache kept, fresh binary cache): ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    );
  } finally {
    if (before === undefined) delete process.env.IBU_GITOPS_CACHE;
    else process.env.IBU_GITOPS_CACHE = before;
    rmSync(scratch, { recursive: true, force: true });
  }
}

function fleet(seed: string, stage: string): FleetDocument {
  return sandboxFleet({ name: "bench", seed, groups: [{ name: "all", clusters: SPOKES, stage }] });
}

interface Cgu extends KubeObject {
  status?: {
    conditions?: Array<{ type: string; status: string }>;
    status?: { startedAt?: string; completedAt?: string };
  };
}

async function main(): Promise<void> {
  if (process.argv.includes("--rebuild")) await rebuild();
  const t0 = performance.now();
  const site = new SandboxSite({ spokes: SPOKES, hubStack: true, argocd: true });
  try {
    await site.start();
    console.log(
      `site start, hub + ${SPOKES.length} spokes with every controller (warm binaries): ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const procs = [...site.cp!.processes()];
    const rss = procs.map(p => ({ name: p.name, mib: rssBytes(p.pid) / MiB }));
    console.log("resident memory after start (MiB):");
    for (const r of rss) console.log(`  ${r.name.padEnd(48)} ${r.mib.toFixed(0)}`);
    console.log(`  ${"total".padEnd(48)} ${rss.reduce((a, r) => a + r.mib, 0).toFixed(0)}`);

    const hub = site.hubApi!;
    const commits = new FleetCommits(hub, join(site.work, "repo"), site.argocd);
    const latencies: number[] = [];
    const synced: number[] = [];
    const beyond: Record<string, number[]> = { Prep: [], Abort: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const [stage, want] of [
        ["Prep", "Prep"],
        ["Abort", "Idle"],
      ] as const) {
        const applied = performance.now();
        const c = await commits.commit(fleet(site.seed, stage), `${stage} ${round}`);
        synced.push(c.syncMs ?? NaN);
        // Commit → each spoke's spec.stage, read every 100 ms.
        const pending = new Set(SPOKES);
        while (pending.size) {
          for (const s of [...pending]) {
            const ibu = await site.spoke(s).api.get<Ibu>(IBU);
            if (ibu?.spec.stage === want) {
              latencies.push(performance.now() - applied);
              pending.delete(s);
            }
          }
          await sleep(100);
        }
        const o = c.applied.find(x => x.kind === "ClusterGroupUpgrade")!;
        const path = await hub.pathOf(o);
        let cgu: Cgu | undefined;
        // TALM sets the Succeeded condition and completedAt in different reconciles.
        let succeededAt = 0;
        for (;;) {
          cgu = await hub.get<Cgu>(path);
          if (cgu?.status?.conditions?.some(x => x.type === "Succeeded"))
            succeededAt ||= Date.now();
          if (
            succeededAt &&
            (cgu?.status?.status?.completedAt || Date.now() - succeededAt > 30_000)
          )
            break;
          await sleep(250);
        }
        const { startedAt, completedAt } = cgu?.status?.status ?? {};
        const cguMs =
          startedAt && completedAt ? Date.parse(completedAt) - Date.parse(startedAt) : NaN;
        // The agent's own time for the stage: the IBU history's start and completion times.
        let agentMs = 0;
        for (const s of SPOKES) {
          const ibu = await site.spoke(s).api.get<Ibu>(IBU);
          const h = ibu?.status?.history?.find(
            x => x.stage === (stage === "Abort" ? "Idle" : stage),
          );
          if (h?.startTime && h.completionTime)
            agentMs = Math.max(agentMs, Date.parse(h.completionTime) - Date.parse(h.startTime));
        }
        beyond[stage]!.push(cguMs - agentMs);
      }
    }
    console.log(
      `git push → Argo CD's sync of the commit finished (${synced.length} samples): p50 ${(pct(synced, 50) / 1000).toFixed(1)} s, p95 ${(pct(synced, 95) / 1000).toFixed(1)} s`,
    );
    console.log(
      `commit (fleet edit, synth, git commit and push, Argo CD sync) → spoke spec.stage changed (${latencies.length} samples): p50 ${(pct(latencies, 50) / 1000).toFixed(1)} s, p95 ${(pct(latencies, 95) / 1000).toFixed(1)} s`,
    );
    for (const [stage, xs] of Object.entries(beyond))
      console.log(
        `${stage} CGU start→finish beyond the agents' own stage time: median ${(pct(xs, 50) / 1000).toFixed(1)} s, max ${(Math.max(...xs) / 1000).toFixed(1)} s (resolution: TALM's timestamps, 1 s)`,
      );
  } finally {
    await site.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
