// `ibu-gitops synth`: fleet files → output folders; `--check` is the CI drift gate.
// `ibu-gitops validate` runs the same pipeline without writing, so it refuses what synth refuses.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { FleetError, formatProblem, ProblemCollector, type FleetProblem } from "../fleet/errors.js";
import type { DesiredStage, Fleet } from "../fleet/model.js";
import { loadFleet } from "../fleet/load.js";
import {
  drift,
  ibguChangeProblems,
  otherFleetOutputs,
  previousOutputProblems,
  previousStages,
  readTree,
  sharedObjectProblems,
  synthFleet,
  writeTree,
  type OutputFiles,
} from "../synth.js";
import { formatted } from "./common.js";
import { findFleetFiles } from "./fleet-files.js";

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

interface Prepared {
  readonly fleet: Fleet;
  readonly dir: string;
  readonly existing: OutputFiles;
  readonly files: OutputFiles;
}

/**
 * Loads, checks and synthesizes one fleet against the output folder it will replace: a stage
 * move LCA rejects, an IBGU change TALM refuses, an object another fleet's folder also has, or
 * bad OADP content is a FleetError. `others`: the other fleets' output, by fleet name.
 */
function prepare(
  file: string,
  args: Pick<SynthArgs, "out" | "templates" | "allowAnyStageMove">,
  others?: ReadonlyMap<string, OutputFiles>,
): Prepared {
  // The fleet's output folder is named after it: read it once the name is known, in the same
  // load (a fleet file is parsed once).
  const read = new Map<string, OutputFiles>();
  const existingOf = (name: string): OutputFiles => {
    let e = read.get(name);
    if (!e) read.set(name, (e = readTree(join(args.out, name))));
    return e;
  };
  // The folder's labels say where each group was; a move LCA would reject is an error.
  // A first synth (no folder yet) has no history to check against.
  // A previous output synth cannot read as it wrote it is reported, never read as Idle.
  let damaged: FleetProblem[] = [];
  const history = (name: string): ReadonlyMap<string, DesiredStage> | undefined => {
    const e = existingOf(name);
    damaged = previousOutputProblems(join(args.out, name), e);
    return !args.allowAnyStageMove && e.size > 0 && !damaged.length ? previousStages(e) : undefined;
  };
  let fleet: Fleet;
  try {
    fleet = loadFleet(file, { previousStages: history });
  } catch (err) {
    if (err instanceof FleetError && damaged.length)
      throw new FleetError([...err.problems, ...damaged]);
    throw err;
  }
  if (damaged.length) throw new FleetError(damaged);
  const dir = join(args.out, fleet.metadata.name);
  const existing = existingOf(fleet.metadata.name);
  const files = synthFleet(fleet, { templatesDir: args.templates });
  const problems = [
    ...ibguChangeProblems(fleet, existing, files),
    ...sharedObjectProblems(files, others ?? otherFleetOutputs(args.out, fleet.metadata.name)).map(
      message => ({
        path: ["metadata", "name"],
        message,
      }),
    ),
  ];
  if (problems.length) throw new FleetError(located(file, problems));
  return { fleet, dir, existing, files };
}

/** Problems with the line of their YAML path in the fleet file. */
function located(
  file: string,
  problems: ReadonlyArray<{ path: ReadonlyArray<string | number>; message: string }>,
): FleetProblem[] {
  if (!problems.length) return [];
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(file, "utf8"), { lineCounter: lines });
  const out = new ProblemCollector(file, doc, lines);
  for (const p of problems) out.add(p.path, p.message);
  return out.problems;
}

/**
 * Prepares every fleet, then checks that no two generate the same object, the given fleets'
 * fresh output standing in for their folders under `out` (so fleets changed together are
 * judged together). Problems of all files are collected, not only the first file's.
 */
function prepareAll(
  paths: readonly string[],
  args: Pick<SynthArgs, "out" | "templates" | "allowAnyStageMove">,
): { files: string[]; prepared: Array<{ file: string; p: Prepared }>; problems: FleetProblem[] } {
  // A near-miss kind in a folder is reported beside the problems of the fleets found there.
  const { files, problems } = findFleetFiles(paths);
  const prepared: Array<{ file: string; p: Prepared }> = [];
  const outputs = new Map<string, { file: string; files: OutputFiles }>();
  for (const file of files) {
    try {
      const p = prepare(file, args, new Map());
      const clash = outputs.get(p.fleet.metadata.name);
      if (clash) {
        problems.push(
          ...located(file, [
            {
              path: ["metadata", "name"],
              message: `fleet ${p.fleet.metadata.name} is also defined in ${clash.file}; each fleet needs its own name (it names the output folder and the Argo CD Application)`,
            },
          ]),
        );
        continue;
      }
      prepared.push({ file, p });
      outputs.set(p.fleet.metadata.name, { file, files: p.files });
    } catch (err) {
      if (!(err instanceof FleetError)) throw err;
      problems.push(...err.problems);
    }
  }
  for (const { file, p } of prepared) {
    const name = p.fleet.metadata.name;
    const others = otherFleetOutputs(args.out, name);
    for (const [other, o] of outputs) if (other !== name) others.set(other, o.files);
    const shared = sharedObjectProblems(p.files, others);
    problems.push(
      ...located(
        file,
        shared.map(message => ({ path: ["metadata", "name"], message })),
      ),
    );
  }
  return { files, prepared, problems };
}

/**
 * Returns the exit code: 0, or 1 when --check finds a folder stale. Nothing is written unless
 * every fleet passes (a FleetError lists the problems of all files).
 */
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
  const { prepared, problems } = prepareAll(args.files, args);
  // Nothing is written unless every fleet is fine: a half-written set of fleets could conflict.
  if (problems.length) throw new FleetError(problems);
  const results: SynthResult[] = [];
  for (const { file, p } of prepared) {
    const { dir, existing, files } = p;
    const base = { file, fleet: p.fleet.metadata.name, dir, files: files.size };
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

/**
 * Throws FleetError with everything synth would refuse for these fleet files against `out`
 * (for commands that read fleets without writing, such as plan).
 */
export function checkFleets(files: readonly string[], out: string, templates?: string): void {
  const { problems } = prepareAll(files, { out, templates });
  if (problems.length) throw new FleetError(problems);
}

export interface ValidateArgs {
  readonly files: readonly string[];
  /** The output folder synth would write (`--output-dir`): previous stages and other fleets come from it. */
  readonly out: string;
  readonly templates?: string;
  /** `table` (a line per file, problems listed, on stderr), `json` or `yaml` (on stdout). Default table. */
  readonly output?: string;
}

export interface ValidateResult {
  readonly file: string;
  readonly valid: boolean;
  readonly fleet?: string;
  readonly groups?: number;
  readonly flavour?: string;
  /** `file:line:column: path: message`, for an invalid file. */
  readonly problems?: string[];
}

/**
 * `ibu-gitops validate`: everything synth would refuse against the output folder, for every
 * fleet file at once, without writing; goes on past a bad file so one run shows everything.
 * Returns the exit code: 0 when all are valid, 1 otherwise.
 */
export function runValidate(
  args: ValidateArgs,
  log: (s: string) => void,
  write: (s: string) => void = () => undefined,
): number {
  const output = args.output ?? "table";
  const { files: all, prepared, problems } = prepareAll(args.files, args);
  const byFile = new Map<string, FleetProblem[]>();
  for (const p of problems) byFile.set(p.file, [...(byFile.get(p.file) ?? []), p]);
  const fleets = new Map(prepared.map(({ file, p }) => [file, p.fleet]));
  const results: ValidateResult[] = [];
  // Files and folders with problems of their own (a near-miss kind, no fleet file) come too.
  for (const file of [...new Set([...all, ...byFile.keys()])]) {
    const bad = byFile.get(file);
    const fleet = fleets.get(file);
    if (bad?.length || !fleet) {
      results.push({ file, valid: false, problems: (bad ?? []).map(formatProblem) });
      if (output === "table" && bad?.length) log(new FleetError(bad).message);
      continue;
    }
    const r = {
      file,
      valid: true,
      fleet: fleet.metadata.name,
      groups: fleet.spec.groups.length,
      flavour: fleet.spec.flavour,
    };
    results.push(r);
    if (output === "table")
      log(`${file}: fleet ${r.fleet} is valid (${r.groups} groups, ${r.flavour} flavour)`);
  }
  if (output !== "table") write(formatted(output, results, () => ""));
  return results.every(r => r.valid) ? 0 : 1;
}
