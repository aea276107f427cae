// Benchmark of fleet validation (parseFleet: YAML, schema, every rule) on the largest realistic
// fleet and on adversarial ones, each at 1×, 2× and 4× its size to show the time grows linearly:
// the median of 5 runs in-process (CPU ms), bytes of input and ms per 100 KB; then the whole
// `ibu-gitops validate` command (spawned bin/ibu-gitops.js, after `npm run build`) on the
// realistic fleet and on 5,000 to 20,000 canaries: median wall time, its CPU time and peak RSS
// of 5 runs.
// Run: npm run build && npx tsx test/bench/validate.ts
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { timed } from "../support/timed.js";
import { FleetError } from "../../src/fleet/errors.js";
import { parseFleet } from "../../src/fleet/load.js";

const RUNS = 5;

const HEADER = `apiVersion: ibu-gitops.dev/v1alpha1
kind: Fleet
metadata:
  name: bench
spec:
  seedImage:
    image: quay.example.com/seeds/sno-seed:4.18.1
    version: 4.18.1
`;

/** 3,500 clusters in 50 groups with 500 canaries (10 per group) at scale 1. */
function realistic(scale: number): string {
  const clusters = 3500 * scale;
  const groups = 50 * scale;
  const per = clusters / groups;
  const stages = ["Prep", "Upgrade", "Finalize", "Idle"];
  const g = Array.from({ length: groups }, (_, i) => {
    const names = Array.from(
      { length: per },
      (_, j) => `sno-${String(i * per + j).padStart(6, "0")}`,
    );
    return {
      name: `g${String(i).padStart(4, "0")}`,
      clusters: names,
      canaries: names.slice(0, 10),
      stage: stages[i % 4],
    };
  });
  return stringify({
    apiVersion: "ibu-gitops.dev/v1alpha1",
    kind: "Fleet",
    metadata: { name: "bench" },
    spec: {
      clusterSelector: { matchExpressions: [{ key: "group-du-sno", operator: "Exists" }] },
      seedImage: { image: "quay.example.com/seeds/sno-seed:4.18.1", version: "4.18.1" },
      groups: g,
    },
  });
}

/** One group whose every cluster is a canary: the check that was quadratic. */
function allCanaries(scale: number): string {
  const names = Array.from({ length: 20_000 * scale }, (_, i) => `sno-${i}`);
  return `${HEADER}  clusterSelector: {matchLabels: {a: b}}\n  groups:\n    - name: g\n      clusters: [${names.join(", ")}]\n      canaries: [${names.join(", ")}]\n`;
}

/** Every cluster named in two groups: one problem per cluster, all located and sorted. */
function everyClusterTwice(scale: number): string {
  const names = Array.from({ length: 10_000 * scale }, (_, i) => `sno-${i}`);
  const list = `[${names.join(", ")}]`;
  return `${HEADER}  clusterSelector: {matchLabels: {a: b}}\n  groups:\n    - name: a\n      clusters: ${list}\n    - name: b\n      clusters: ${list}\n`;
}

/** Thousands of misspelt fields, each needing a did-you-mean search. */
function typos(scale: number): string {
  const keys = Array.from({ length: 5000 * scale }, (_, i) => `      stgae${i}: x\n`).join("");
  return `${HEADER}  groups:\n    - name: g\n      clusters: [a]\n${keys}`;
}

/** A 5 MB value, echoed in the problem. */
function hugeValue(scale: number): string {
  return `${HEADER}  groups:\n    - name: g\n      clusters: [a]\n      stage: ${"x".repeat(5_000_000 * scale)}\n`;
}

/** Flow nesting far past the limit. */
function deepNesting(scale: number): string {
  const n = 100_000 * scale;
  return `${HEADER}  groups: ${"[".repeat(n)}${"]".repeat(n)}\n`;
}

/** An alias bomb: 8 levels of 10 aliases each (10^8 nodes if expanded). */
function aliasBomb(scale: number): string {
  let bomb = "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (let i = 1; i < 8 * scale; i++)
    bomb += `  a${i}: &a${i} [${Array(10)
      .fill(`*a${i - 1}`)
      .join(", ")}]\n`;
  return HEADER + bomb;
}

/** Every key of a large mapping used twice. */
function duplicateKeys(scale: number): string {
  const keys = Array.from({ length: 5000 * scale }, (_, i) => `      k${i}: x\n      k${i}: y\n`);
  return `${HEADER}  groups:\n    - name: g\n      clusters: [a]\n${keys.join("")}`;
}

/** Many YAML syntax errors (sequence items without '-'). */
function syntaxErrors(scale: number): string {
  const lines = Array.from({ length: 20_000 * scale }, (_, i) => `    c${i}\n`).join("");
  return `${HEADER}  groups:\n    - name: g\n${lines}`;
}

const CASES: Array<[string, (scale: number) => string]> = [
  ["realistic: 3,500 clusters, 50 groups, 500 canaries", realistic],
  ["20,000 clusters, all canaries", allCanaries],
  ["10,000 clusters in two groups (10,000 problems)", everyClusterTwice],
  ["5,000 misspelt fields", typos],
  ["5,000 keys used twice", duplicateKeys],
  ["a 5 MB value", hugeValue],
  ["flow nesting 100,000 deep", deepNesting],
  ["alias bomb", aliasBomb],
  ["20,000 YAML syntax errors", syntaxErrors],
];

/**
 * CPU time of this process (ms), not wall time: the machine is shared, and the figure that
 * shows growth with input size is the work done.
 */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function measure(text: string): { ms: number; outcome: string } {
  let outcome = "";
  const times = Array.from({ length: RUNS }, () => {
    const t0 = cpuMs();
    try {
      const f = parseFleet(text, "bench.yaml");
      outcome = `valid, ${f.spec.groups.length} groups`;
    } catch (err) {
      if (!(err instanceof FleetError)) throw err;
      outcome = `${err.problems.length} problems, message ${err.message.length} chars`;
    }
    return cpuMs() - t0;
  });
  return { ms: median(times), outcome };
}

measure(realistic(1)); // warm up the JIT once, so the first row is not the cold start
console.log("| Input | Scale | Bytes | validate (CPU ms, median of 5) | ms per 100 KB | Outcome |");
console.log("|---|---|---|---|---|---|");
for (const [name, make] of CASES) {
  for (const scale of [1, 2, 4]) {
    const text = make(scale);
    const { ms, outcome } = measure(text);
    console.log(
      `| ${name} | ${scale}× | ${text.length.toLocaleString("en")} | ${ms.toFixed(1)} | ${((ms / text.length) * 100_000).toFixed(2)} | ${outcome} |`,
    );
  }
}

// The whole command: start-up, reading the file, validation and the check against the output
// folder, as a user runs it.
const work = mkdtempSync(join(tmpdir(), "ibu-bench-validate-"));
try {
  const bin = resolve(import.meta.dirname, "..", "..", "bin", "ibu-gitops.js");
  console.log(
    "\n| Input | Scale | Bytes | `ibu-gitops validate` (wall s, median of 5) | CPU s | peak RSS MiB |",
  );
  console.log("|---|---|---|---|---|---|");
  const commands: Array<[string, (scale: number) => string, number[]]> = [
    ["realistic", realistic, [1, 2, 4]],
    // 5,000, 10,000 and 20,000 canaries: 40,000 would pass what one CGU holds.
    ["all canaries", allCanaries, [0.25, 0.5, 1]],
  ];
  for (const [name, make, scales] of commands) {
    for (const scale of scales) {
      const file = join(work, `fleet-${scale}.yaml`);
      const text = make(scale);
      writeFileSync(file, text);
      const t = timed(
        process.execPath,
        [bin, "validate", "-f", file, "--output-dir", join(work, "out")],
        work,
        RUNS,
        { ...process.env, IBU_GITOPS_NO_STALE_CHECK: "1" },
      );
      console.log(
        `| ${name} | ${scale}× | ${text.length.toLocaleString("en")} | ${t.wall.toFixed(2)} | ${t.cpu.toFixed(2)} | ${t.rssMiB.toFixed(0)} |`,
      );
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
