// Benchmark of `ibu-gitops synth` on large fleets, with the real PolicyGenerator on ZTP's
// recipe for the same fleet measured in the same run. Prints wall time and peak RSS of each
// process (median of 3 runs), the in-process synth time, and the ratio PolicyGenerator / ours.
// Run: npx tsx test/bench/synth.ts
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { timed, type Timing } from "../support/timed.js";
import { loadFleet } from "../../src/fleet/load.js";
import { synthFleet } from "../../src/synth.js";
import { ensurePolicyGenerator } from "../support/peers.js";
import { writeZtpPolicyGenerator } from "../support/ztp-policygenerator.js";

const REPO = resolve(import.meta.dirname, "..", "..");
const RUNS = 3;

interface Case {
  clusters: number;
  groups: number;
  mode: "lists" | "selectors";
}

function fleetYaml(c: Case): string {
  const per = Math.ceil(c.clusters / c.groups);
  const stages = ["Prep", "Upgrade", "Finalize"];
  const groups = Array.from({ length: c.groups }, (_, g) => {
    const base = { name: `g${String(g).padStart(3, "0")}`, stage: stages[g % 3] };
    if (c.mode === "selectors")
      return { ...base, selector: { matchLabels: { "ibu-group": base.name } } };
    const clusters = Array.from(
      { length: Math.min(per, c.clusters - g * per) },
      (_, i) => `sno-${String(g * per + i).padStart(5, "0")}`,
    );
    return { ...base, clusters, canaries: clusters.slice(0, 1) };
  });
  return stringify({
    apiVersion: "ibu-gitops.dev/v1alpha1",
    kind: "Fleet",
    metadata: { name: "bench" },
    spec: {
      clusterSelector: { matchExpressions: [{ key: "group-du-sno", operator: "Exists" }] },
      seedImage: {
        image: "quay.example.com/seeds/sno-seed:4.18.1",
        version: "4.18.1",
        pullSecretRef: { name: "seed-pull-secret" },
      },
      oadp: { content: [{ template: "platform" }, { template: "lvms" }] },
      groups,
    },
  });
}

const timedRun = (cmd: string, args: string[], cwd: string): Timing => timed(cmd, args, cwd, RUNS);

const pg = await ensurePolicyGenerator();
// The compiled CLI is what a container image runs; the tsx one is what a checkout runs.
const built = spawnSync(
  process.execPath,
  [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", REPO],
  { encoding: "utf8" },
);
if (built.status !== 0) throw new Error(`tsc failed:\n${built.stdout}${built.stderr}`);
const compiledCli = join(REPO, "dist", "src", "cli", "main.js");
const work = mkdtempSync(join(tmpdir(), "ibu-bench-synth-"));
console.log(
  "clusters groups mode      | ours: in-process | compiled CLI: wall, peak RSS | tsx CLI: wall, peak RSS | PolicyGenerator: wall, peak RSS | PG/compiled | PG/in-process",
);
try {
  for (const clusters of [100, 1000, 3500]) {
    for (const groups of [1, 10, 50]) {
      for (const mode of ["lists", "selectors"] as const) {
        const c: Case = { clusters, groups, mode };
        const dir = join(work, `${clusters}-${groups}-${mode}`);
        mkdirSync(dir, { recursive: true });
        const file = join(dir, "fleet.yaml");
        writeFileSync(file, fleetYaml(c));
        const fleet = loadFleet(file);
        synthFleet(fleet); // warm up
        const t0 = performance.now();
        synthFleet(fleet);
        const inProcess = performance.now() - t0;
        const compiled = timedRun(
          process.execPath,
          [compiledCli, "synth", "-f", file, "--output-dir", join(dir, "out1")],
          dir,
        );
        const viaTsx = timedRun(
          process.execPath,
          [
            join(REPO, "bin", "ibu-gitops.js"),
            "synth",
            "-f",
            file,
            "--output-dir",
            join(dir, "out2"),
          ],
          dir,
        );
        const pgDir = join(dir, "pg");
        const peer = timedRun(pg, [writeZtpPolicyGenerator(fleet, pgDir)], pgDir);
        const row = [
          `${String(clusters).padStart(8)} ${String(groups).padStart(6)} ${mode.padEnd(9)}`,
          `${inProcess.toFixed(0).padStart(13)} ms`,
          `${compiled.wall.toFixed(2).padStart(21)} s, ${compiled.rssMiB.toFixed(0).padStart(3)} MiB`,
          `${viaTsx.wall.toFixed(2).padStart(16)} s, ${viaTsx.rssMiB.toFixed(0).padStart(3)} MiB`,
          `${peer.wall.toFixed(2).padStart(24)} s, ${peer.rssMiB.toFixed(0).padStart(3)} MiB`,
          `${(peer.wall / compiled.wall).toFixed(2).padStart(10)}x`,
          `${((peer.wall * 1000) / inProcess).toFixed(1).padStart(12)}x`,
        ];
        console.log(row.join(" | "));
      }
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
