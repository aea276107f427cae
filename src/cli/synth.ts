// `ibu-gitops synth`: fleet files → output folders; `--check` is the CI drift gate.
import { join, relative } from "node:path";
import { loadFleet } from "../fleet/load.js";
import { drift, previousStages, readTree, synthFleet, writeTree } from "../synth.js";
import { formatted } from "./common.js";
import { fleetFiles } from "./fleet-files.js";

export interface SynthArgs {
  readonly files: readonly string[];
  /** The folder holding one output folder per fleet (`--output-dir`). */
  readonly out: string;
  /** `table` (progress lines on stderr only), `json` or `yaml`: one entry per fleet on stdout. */
  readonly output?: string;
  readonly templates?: string;
  readonly check: boolean;
  /** Skip the check that each group's stage moves the way LCA allows since the last synth. */
  readonly allowAnyStageMove?: boolean;
}

/** What synth did with one fleet file (`-o json|yaml`). */
export interface SynthResult {
  readonly file: string;
  readonly fleet: string;
  readonly dir: string;
  readonly files: number;
  /** `written`; with --check `up-to-date` or `stale`. */
  readonly result: "written" | "up-to-date" | "stale";
  readonly missing?: string[];
  readonly removed?: string[];
  readonly changed?: string[];
}

/** Returns the exit code: 0, or 1 when --check finds the folder stale. */
export function runSynth(
  args: SynthArgs,
  log: (s: string) => void,
  write: (s: string) => void = () => undefined,
): number {
  const results = synthAll(args, log);
  if (args.output && args.output !== "table") write(formatted(args.output, results, () => ""));
  return results.some(r => r.result === "stale") ? 1 : 0;
}

function synthAll(args: SynthArgs, log: (s: string) => void): SynthResult[] {
  const results: SynthResult[] = [];
  for (const file of fleetFiles(args.files)) {
    const name = loadFleet(file).metadata.name;
    const dir = join(args.out, name);
    const existing = readTree(dir);
    // The folder's labels say where each group was; a move LCA would reject is an error.
    // A first synth (no folder yet) has no history to check against.
    const checkMoves = !args.allowAnyStageMove && existing.size > 0;
    const fleet = loadFleet(file, checkMoves ? { previousStages: previousStages(existing) } : {});
    const files = synthFleet(fleet, {
      templatesDir: args.templates,
      sourceName: relative(process.cwd(), file),
    });
    const base = { file, fleet: name, dir, files: files.size };
    if (!args.check) {
      writeTree(dir, files);
      log(`${file} → ${dir}/ (${files.size} files)`);
      results.push({ ...base, result: "written" });
      continue;
    }
    const d = drift(existing, files);
    if (!d.added.length && !d.removed.length && !d.changed.length) {
      log(`${dir}/ is up to date with ${file}`);
      results.push({ ...base, result: "up-to-date" });
      continue;
    }
    log(
      `${dir}/ is stale: run \`ibu-gitops synth -f ${file} --output-dir ${args.out}\` and commit the result`,
    );
    for (const f of d.added) log(`  missing: ${f}`);
    for (const f of d.removed) log(`  not generated any more: ${f}`);
    for (const c of d.changed) log(`  changed: ${c.file}\n${c.diff.replace(/^/gm, "    ")}`);
    results.push({
      ...base,
      result: "stale",
      missing: d.added,
      removed: d.removed,
      changed: d.changed.map(c => c.file),
    });
  }
  return results;
}
