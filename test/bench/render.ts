// What Argo CD's repo-server runs on every refresh (issue 18, target 2): `kustomize build` of our
// synthesized fleet folder, against `kustomize build --enable-alpha-plugins` of ZTP's policies
// folder for the same fleet with the real PolicyGenerator as the exec plugin. Same kustomize
// (v5.7.1, the hub stack's), same run, interleaved; medians of --runs runs (default 3); checks
// that every render succeeds and prints its object count. Run: npx tsx test/bench/render.ts
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { parseAllDocuments } from "yaml";
import { loadFleet } from "../../src/fleet/load.js";
import { ensureHubStackBinaries } from "../../src/sandbox/hubstack-build.js";
import { synthFleet, writeTree, type OutputFiles } from "../../src/synth.js";
import { BENCH_FLEETS, benchFleetYaml, type BenchFleet } from "../support/bench-fleets.js";
import { ensurePolicyGenerator } from "../support/peers.js";
import { median, timedOnce } from "../support/timed.js";
import {
  installPolicyGeneratorPlugin,
  writeZtpKustomization,
} from "../support/ztp-policygenerator.js";

const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "3" },
    // "all": the 18 fleets of bench/synth.ts; "ends": 100 clusters in 1 group, and 50 groups.
    fleets: { type: "string", default: "all" },
  },
});
const RUNS = Number(opts.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs ${opts.runs}: not a count`);
const fleets =
  opts.fleets === "ends"
    ? BENCH_FLEETS.filter(f => (f.clusters === 100 && f.groups === 1) || f.groups === 50)
    : BENCH_FLEETS;

interface Render {
  readonly wall: number;
  readonly cpu: number;
  readonly rssMiB: number;
  readonly objects: number;
  readonly kinds: Map<string, number>;
}

/** Runs each render `RUNS` times, interleaved, so load changes hit every side alike. */
function renderInterleaved(
  renders: ReadonlyArray<{ args: string[]; cwd: string; env?: NodeJS.ProcessEnv }>,
  kustomize: string,
): Render[] {
  const samples = renders.map(() => [] as Array<ReturnType<typeof timedOnce>>);
  for (let i = 0; i < RUNS; i++)
    renders.forEach((r, j) => samples[j]!.push(timedOnce(kustomize, r.args, r.cwd, r.env)));
  return samples.map(runs => {
    const kinds = kindCounts(runs[0]!.stdout);
    for (const r of runs.slice(1))
      if (r.stdout !== runs[0]!.stdout) throw new Error("two runs of one render differ");
    return {
      wall: median(runs.map(r => r.wall)),
      cpu: median(runs.map(r => r.cpu)),
      rssMiB: median(runs.map(r => r.rssMiB)),
      objects: count(runs[0]!.stdout),
      kinds,
    };
  });
}

/** Objects per kind in a multi-document YAML stream; throws on a YAML error. */
function kindCounts(yaml: string): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const doc of parseAllDocuments(yaml)) {
    if (doc.errors.length) throw new Error(`render output: ${doc.errors[0]!.message}`);
    const kind = (doc.toJS() as { kind?: string } | null)?.kind;
    if (kind) kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return kinds;
}

const count = (yaml: string): number => [...kindCounts(yaml).values()].reduce((a, b) => a + b, 0);

/** Objects our kustomization lists (every file but the separate argocd/ app's). */
function synthObjects(files: OutputFiles): { objects: number; files: number; bytes: number } {
  const listed = [...files].filter(([f]) => !f.startsWith("argocd/") && f !== "kustomization.yaml");
  return {
    objects: listed.reduce((n, [, t]) => n + count(t), 0),
    files: listed.length,
    bytes: listed.reduce((n, [, t]) => n + Buffer.byteLength(t), 0),
  };
}

/** Our output without upgrades/ (the CGUs or IBGUs) and without them in kustomization.yaml. */
function withoutUpgrades(files: OutputFiles): OutputFiles {
  const kept = new Map([...files].filter(([f]) => !f.startsWith("upgrades/")));
  const k = kept.get("kustomization.yaml")!;
  kept.set("kustomization.yaml", k.replace(/^ {2}- upgrades\/.*\n/gm, ""));
  return kept;
}

const fmt = (r: Render): string =>
  `${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s CPU, ${r.rssMiB.toFixed(0)} MiB`;
const name = (f: BenchFleet): string => `${f.clusters} clusters, ${f.groups} groups, ${f.mode}`;

const kustomize = (await ensureHubStackBinaries()).path("kustomize");
const pg = await ensurePolicyGenerator();
const work = mkdtempSync(join(tmpdir(), "ibu-bench-render-"));
try {
  const pluginEnv = installPolicyGeneratorPlugin(pg, join(work, "kustomize-plugin"));
  console.log(
    `kustomize v5.7.1 (${kustomize}); PolicyGenerator ${basename(dirname(pg))}; ` +
      `${RUNS} runs each, interleaved; load average ${loadavg()
        .map(l => l.toFixed(1))
        .join(" ")}`,
  );
  // kustomize's fixed cost: one Namespace, no plugin.
  const base = join(work, "baseline");
  mkdirSync(base);
  writeFileSync(join(base, "kustomization.yaml"), "resources: [ns.yaml]\n");
  writeFileSync(join(base, "ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n");
  const [baseline] = renderInterleaved([{ args: ["build", base], cwd: work }], kustomize);
  console.log(`kustomize build of one Namespace: ${fmt(baseline!)}`);
  console.log(
    "fleet | ours: files, KB, objects | ours: kustomize build | ZTP: objects | ZTP: kustomize build --enable-alpha-plugins | ZTP/ours wall | ZTP/ours CPU | ours without CGUs: objects, kustomize build",
  );
  for (const f of fleets) {
    const dir = join(work, `${f.clusters}-${f.groups}-${f.mode}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "fleet.yaml"), benchFleetYaml(f));
    const fleet = loadFleet(join(dir, "fleet.yaml"));
    const files = synthFleet(fleet);
    writeTree(join(dir, "ours"), files);
    // The same folder without the CGUs: the kinds ZTP's policies app renders (its CGUs are
    // applied by hand or by another app), to show where our render's time goes.
    writeTree(join(dir, "ours-no-cgus"), withoutUpgrades(files));
    const expected = synthObjects(files);
    writeZtpKustomization(fleet, join(dir, "ztp"));
    const policies = (
      readFileSync(join(dir, "ztp", "pg.yaml"), "utf8").match(/^ {2}- name:/gm) ?? []
    ).length;
    const [ours, ztp, noCgus] = renderInterleaved(
      [
        { args: ["build", join(dir, "ours")], cwd: dir },
        { args: ["build", "--enable-alpha-plugins", join(dir, "ztp")], cwd: dir, env: pluginEnv },
        { args: ["build", join(dir, "ours-no-cgus")], cwd: dir },
      ],
      kustomize,
    );
    if (ours!.objects !== expected.objects)
      throw new Error(
        `${name(f)}: kustomize rendered ${ours!.objects} of our ${expected.objects} objects`,
      );
    if (ztp!.kinds.get("Policy") !== policies)
      throw new Error(
        `${name(f)}: ZTP's render has ${ztp!.kinds.get("Policy") ?? 0} Policies, not ${policies}`,
      );
    console.log(
      [
        name(f),
        `${expected.files}, ${(expected.bytes / 1024).toFixed(0)} KB, ${ours!.objects}`,
        fmt(ours!),
        `${ztp!.objects} (${policies} Policies)`,
        fmt(ztp!),
        `${(ztp!.wall / ours!.wall).toFixed(2)}x`,
        `${(ztp!.cpu / ours!.cpu).toFixed(2)}x`,
        `${noCgus!.objects}: ${fmt(noCgus!)}`,
      ].join(" | "),
    );
  }
  console.log(
    `load average at the end: ${loadavg()
      .map(l => l.toFixed(1))
      .join(" ")}`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
