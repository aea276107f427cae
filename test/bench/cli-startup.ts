// Start-up of the installed command for a 3,500-cluster fleet in 50 groups (issue 18, target
// 1): `validate` and `synth` through bin/ibu-gitops.js (the compiled CLI, each command loading
// only its own modules) against the same CLI through tsx (what bin/ ran before), and bare
// `--version`; the real PolicyGenerator on ZTP's recipe for the same fleet when it is built
// (test/bench/synth.ts builds it). Median wall time and peak RSS of 5 runs each, same run.
// The stale-source check a checkout does is off, as in an installed package (no src/ there).
// Run: npx tsx test/bench/cli-startup.ts
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { timed, type Timing } from "../support/timed.js";
import { loadFleet } from "../../src/fleet/load.js";
import { cacheRoot } from "../support/controlplane-build.js";
import { writeZtpPolicyGenerator } from "../support/ztp-policygenerator.js";

const REPO = resolve(import.meta.dirname, "..", "..");
const RUNS = 5;
const CLUSTERS = 3500;
const GROUPS = 50;

function fleetYaml(): string {
  const per = CLUSTERS / GROUPS;
  const stages = ["Prep", "Upgrade", "Finalize"];
  const groups = Array.from({ length: GROUPS }, (_, g) => {
    const clusters = Array.from(
      { length: per },
      (_, i) => `sno-${String(g * per + i).padStart(5, "0")}`,
    );
    return { name: `g${g}`, stage: stages[g % 3], clusters, canaries: clusters.slice(0, 1) };
  });
  return stringify({
    apiVersion: "ibu-gitops.dev/v1alpha1",
    kind: "Fleet",
    metadata: { name: "bench" },
    spec: {
      seedImage: { image: "quay.example.com/seeds/sno-seed:4.18.1", version: "4.18.1" },
      groups,
    },
  });
}

const timedRun = (cmd: string, args: string[], cwd: string): Timing =>
  timed(cmd, args, cwd, RUNS, { ...process.env, IBU_GITOPS_NO_STALE_CHECK: "1" });

const built = spawnSync(
  process.execPath,
  [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", REPO],
  { encoding: "utf8" },
);
if (built.status !== 0) throw new Error(`tsc failed:\n${built.stdout}${built.stderr}`);

const work = mkdtempSync(join(tmpdir(), "ibu-bench-startup-"));
try {
  const file = join(work, "fleet.yaml");
  writeFileSync(file, fleetYaml());
  const bin = [join(REPO, "bin", "ibu-gitops.js")];
  const tsx = ["--import", import.meta.resolve("tsx"), join(REPO, "src", "cli", "main.ts")];
  const cases: Array<[string, string[]]> = [
    ["--version", ["--version"]],
    ["validate", ["validate", "-f", file]],
    ["synth", ["synth", "-f", file, "--output-dir", join(work, "out")]],
  ];
  const fmt = (t: { wall: number; rssMiB: number }): string =>
    `${t.wall.toFixed(2)} s, ${t.rssMiB.toFixed(0)} MiB`;
  console.log(`${CLUSTERS} clusters in ${GROUPS} groups; median of ${RUNS} runs`);
  console.log("command     | bin/ (compiled)     | via tsx (before)    | tsx / bin");
  const ours: Record<string, number> = {};
  for (const [name, args] of cases) {
    const a = timedRun(process.execPath, [...bin, ...args], work);
    const b = timedRun(process.execPath, [...tsx, ...args], work);
    ours[name] = a.wall;
    console.log(
      `${name.padEnd(11)} | ${fmt(a).padEnd(19)} | ${fmt(b).padEnd(19)} | ${(b.wall / a.wall).toFixed(2)}`,
    );
  }
  // The peer, when test/bench/synth.ts has built it (its folder is in the project cache).
  const peers = join(cacheRoot(), "peers");
  const pgDir = existsSync(peers)
    ? spawnSync("sh", ["-c", `ls -d ${peers}/policygenerator-*/PolicyGenerator 2>/dev/null`], {
        encoding: "utf8",
      }).stdout.split("\n")[0]
    : "";
  if (pgDir) {
    const dir = join(work, "pg");
    mkdirSync(dir);
    const pg = timedRun(pgDir, [writeZtpPolicyGenerator(loadFleet(file), dir)], dir);
    console.log(
      `PolicyGenerator (ZTP's recipe, same fleet): ${fmt(pg)}; PolicyGenerator / validate ${(pg.wall / ours.validate!).toFixed(2)}, / synth ${(pg.wall / ours.synth!).toFixed(2)}`,
    );
  } else console.log("PolicyGenerator not built here: run test/bench/synth.ts once to build it");
} finally {
  rmSync(work, { recursive: true, force: true });
}
