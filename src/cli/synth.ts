// `ibu-gitops synth`: fleet files → output folders; `--check` is the CI drift gate.
import { join, relative } from "node:path";
import { loadFleet } from "../fleet/load.js";
import { drift, previousStages, readTree, synthFleet, writeTree } from "../synth.js";
import { fleetFiles } from "./fleet-files.js";

export interface SynthArgs {
  readonly files: readonly string[];
  readonly out: string;
  readonly templates?: string;
  readonly check: boolean;
  /** Skip the check that each group's stage moves the way LCA allows since the last synth. */
  readonly allowAnyStageMove?: boolean;
}

/** Returns the exit code: 0, or 1 when --check finds the folder stale. */
export function runSynth(args: SynthArgs, log: (s: string) => void): number {
  let stale = 0;
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
    if (!args.check) {
      writeTree(dir, files);
      log(`${file} → ${dir}/ (${files.size} files)`);
      continue;
    }
    const d = drift(existing, files);
    if (!d.added.length && !d.removed.length && !d.changed.length) {
      log(`${dir}/ is up to date with ${file}`);
      continue;
    }
    stale++;
    log(
      `${dir}/ is stale: run \`ibu-gitops synth -f ${file} -o ${args.out}\` and commit the result`,
    );
    for (const f of d.added) log(`  missing: ${f}`);
    for (const f of d.removed) log(`  not generated any more: ${f}`);
    for (const c of d.changed) log(`  changed: ${c.file}\n${c.diff.replace(/^/gm, "    ")}`);
  }
  return stale ? 1 : 0;
}
