// Benchmark of `ibu-gitops synth` on large fleets, with the real PolicyGenerator on ZTP's
// recipe for the same fleet measured in the same run. Prints wall time and peak RSS of each
// process (median of 3 runs), the in-process synth time, and the ratio PolicyGenerator / ours.
// Run: npx tsx test/bench/synth.ts
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { timed, type Timing } from "../support/timed.js";
import { loadFleet } from "../../src/fleet/load.js";
import { synthFleet } from "../../src/synth.js";
import { ensurePolicyGenerator } from "../support/peers.js";
import { writeZtpPolicyGenerator } from "../support/ztp-policygenerator.js";
import { BENCH_FLEETS, benchFleetYaml } from "../support/bench-fleets.js";

const REPO = resolve(import.meta.dirname, "..", "..");
const RUNS = 3;

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
  for (const c of BENCH_FLEETS) {
    const { clusters, groups, mode } = c;
    const dir = join(work, `${clusters}-${groups}-${mode}`);
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "fleet.yaml");
    writeFileSync(file, benchFleetYaml(c));
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
      [join(REPO, "bin", "ibu-gitops.js"), "synth", "-f", file, "--output-dir", join(dir, "out2")],
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
} finally {
  rmSync(work, { recursive: true, force: true });
}
