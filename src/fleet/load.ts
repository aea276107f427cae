// Loads a fleet file: parses YAML with positions, checks the schema, then the rules that span
// fields (a cluster in two groups, selectors, names of generated objects, OADP files). Every
// problem is reported at once, sorted, each with file, line, column and YAML path.
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { FleetError, clip, pathString, type PathSegment, type ProblemCollector } from "./errors.js";
import {
  FLEET_API_VERSION,
  FLEET_KIND,
  FLEET_SCHEMA,
  STAGE_STEPS,
  addonProblems,
  labelSelectorProblems,
  type DesiredStage,
  type Fleet,
  type FleetSpec,
  type Group,
  type LabelSelector,
} from "./model.js";
import { MAX_OBJECT_BYTES, cguName, ibguName, policyNames } from "./names.js";
import {
  MAX_OADP_FILE_BYTES,
  checkBackupRestoreFile,
  configMapKeyProblem,
  oadpDataKey,
} from "./oadp.js";
import { parseInto } from "./schema.js";
import {
  cguOnlyFieldProblems,
  derivedNameProblems,
  ibuAnnotationProblems,
  ownedNamespaceProblems,
} from "./rules.js";
import { ibguPlanProblem, stageMoveProblem } from "./stages.js";
import { EncodingError, decodeUtf8 } from "./text.js";
import { readYaml } from "./yaml-source.js";

export interface LoadOptions {
  /**
   * Each group's desired stage in the output generated before (absent groups were Idle), or a
   * function from the fleet's name (once it is known to be valid) to them, for a caller whose
   * output folder is named after the fleet (undefined: no history to check against). When given,
   * a move LCA would reject is a problem.
   */
  readonly previousStages?:
    | ReadonlyMap<string, DesiredStage>
    | ((fleetName: string) => ReadonlyMap<string, DesiredStage> | undefined);
}

/** The stage history to check moves against, if any. */
function historyOf(
  opts: LoadOptions,
  fleetName: string | undefined,
): ReadonlyMap<string, DesiredStage> | undefined {
  const h = opts.previousStages;
  if (typeof h !== "function") return h;
  return fleetName === undefined ? undefined : h(fleetName);
}

/** Largest fleet file read: far beyond 3,500 clusters (about 100 KB), short of a memory hazard. */
export const MAX_FLEET_FILE_BYTES = 32 * 1024 * 1024;

/**
 * Reads and validates a fleet file.
 * @throws FleetError listing every problem (a file that cannot be read, or is not UTF-8 as a
 *   whole, is one problem about the whole file: line 0, shown as `file: why`)
 */
export function loadFleet(file: string, opts: LoadOptions = {}): Fleet {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error(st.isDirectory() ? "is a folder" : "is not a regular file");
    if (st.size > MAX_FLEET_FILE_BYTES)
      throw new Error(`is ${st.size} bytes; a fleet file is at most ${MAX_FLEET_FILE_BYTES}`);
    text = decodeUtf8(readFileSync(file));
  } catch (err) {
    const at = err instanceof EncodingError ? err : { line: 0, column: 0 };
    const message = err instanceof EncodingError ? err.message : unreadable(err);
    throw new FleetError([{ file, path: "", line: at.line, column: at.column, message }]);
  }
  return parseFleet(text, file, opts);
}

/** Why a file cannot be read, in words (the code is kept: it is what a search finds). */
function unreadable(err: unknown): string {
  const code = (err as { code?: string }).code;
  if (code === "ENOENT") return "no such file (ENOENT)";
  if (code === "EACCES") return "cannot be read: permission denied (EACCES)";
  return code ? `cannot be read (${code})` : `cannot be read: ${(err as Error).message}`;
}

/**
 * Validates fleet YAML text; `file` names it in problems and anchors relative paths (OADP files
 * are read relative to its folder).
 * @throws FleetError listing every problem, sorted by line and column
 */
export function parseFleet(text: string, file: string, opts: LoadOptions = {}): Fleet {
  const { value: raw, out } = readYaml(text, file);
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    out.add([], "must be a mapping with apiVersion, kind, metadata and spec");
    throw new FleetError(out.problems);
  }
  const parsed = parseInto(FLEET_SCHEMA, raw, [], out);
  const baseDir = dirname(resolve(file));
  if (parsed.ok) {
    const { metadata, spec } = parsed.value;
    checkRules(spec, baseDir, () => true, out);
    const history = historyOf(opts, metadata.name);
    if (history) checkStageMoves(spec, history, () => true, out);
    if (out.problems.length) throw new FleetError(out.problems);
    return {
      apiVersion: FLEET_API_VERSION,
      kind: FLEET_KIND,
      metadata: { name: metadata.name },
      spec,
      baseDir,
      file,
    };
  }
  // Rules across fields still run, on the parts that passed the schema (read only where clean:
  // a part with a problem may be missing fields), so every problem is reported at once.
  const partial = (parsed.partial ?? {}) as { metadata?: { name?: string }; spec?: FleetSpec };
  const clean = snapshot(out);
  if (partial.spec) {
    checkRules(partial.spec, baseDir, clean, out);
    const name = clean("metadata", "name") ? partial.metadata?.name : undefined;
    const history = historyOf(opts, name);
    if (history) checkStageMoves(partial.spec, history, clean, out);
  }
  throw new FleetError(out.problems);
}

type Clean = (...path: PathSegment[]) => boolean;

/** Whether a path had no schema problem at or below it, as of now. */
function snapshot(out: ProblemCollector): Clean {
  const troubled = new Set<string>();
  for (const p of out.problems) {
    // "spec.groups[1].name" troubles "spec", "spec.groups", "spec.groups[1]" and itself.
    const parts = p.path.split(/(?=[.[])/);
    let acc = "";
    troubled.add("");
    for (const part of parts) troubled.add((acc += part));
  }
  return (...path) => !troubled.has(pathString(path));
}

function checkRules(spec: FleetSpec, baseDir: string, clean: Clean, out: ProblemCollector): void {
  checkGroups(spec, clean, out);
  checkSelectors(spec, clean, out);
  const addonReads = [["addon", "hubNamespace"], ["hub"], ["flavour"], ["oadp", "configMap"]];
  if (spec.addon && addonReads.every(p => clean("spec", ...p)))
    for (const p of addonProblems(spec)) out.add(p.path, p.message);
  if (clean("spec", "hub") && clean("spec", "policyName") && checkPolicyNames(spec, out))
    checkDerivedNames(spec, clean, out);
  if (clean("spec", "oadp") && clean("spec", "flavour")) checkOadp(spec, baseDir, out);
  checkGeneratorRules(spec, clean, out);
}

/** The generator's rules (rules.ts), each where the fields it reads passed the schema. */
function checkGeneratorRules(spec: FleetSpec, clean: Clean, out: ProblemCollector): void {
  const problems = [
    // Reads each value only when it is a string: a value that failed is missing.
    ...ibuAnnotationProblems(spec),
    ...(clean("spec", "flavour") && clean("spec", "rollout") ? cguOnlyFieldProblems(spec) : []),
    ...(clean("spec", "hub") && clean("spec", "flavour") && clean("spec", "oadp", "configMap")
      ? ownedNamespaceProblems(spec)
      : []),
    ...(clean("spec", "hub") && clean("spec", "policyName") ? derivedNameProblems(spec) : []),
  ];
  for (const p of problems) out.add(p.path, p.message);
}

/**
 * ACM's webhook: a root policy's namespace and name together are at most 62 characters,
 * because the replicated policy is named <namespace>.<name> (63 with the dot). Returns whether
 * they all fit.
 */
function checkPolicyNames(spec: FleetSpec, out: ProblemCollector): boolean {
  const tooLong = (Object.values(policyNames(spec.policyName)) as string[]).find(
    policy => spec.hub.policyNamespace.length + policy.length > 62,
  );
  if (!tooLong) return true;
  const len = spec.hub.policyNamespace.length + tooLong.length;
  out.add(
    ["spec", "policyName"],
    `policy ${spec.hub.policyNamespace}/${tooLong} is ${len} characters of namespace + name; ACM allows at most 62 (shorten spec.policyName or spec.hub.policyNamespace)`,
  );
  return false;
}

/**
 * Every CGU and IBGU name a group can get, through the budget of names TALM derives from them
 * (src/fleet/names.ts). Only the policy prefix can make that impossible (a group name is
 * shortened), so the first failure is reported once, at spec.policyName.
 */
function checkDerivedNames(spec: FleetSpec, clean: Clean, out: ProblemCollector): void {
  if (!clean("spec", "seedImage") || !Array.isArray(spec.groups)) return;
  const names = policyNames(spec.policyName);
  const version = spec.seedImage.version;
  try {
    spec.groups.forEach((g: Group | undefined, i) => {
      if (!g || !clean("spec", "groups", i, "name")) return;
      for (const step of STAGE_STEPS) cguName(g.name, step, version, names);
      for (const kind of [undefined, "abort", "rollback"] as const) ibguName(g.name, version, kind);
    });
  } catch (err) {
    out.add(["spec", "policyName"], (err as Error).message);
  }
}

/** Every selector the output carries, checked as the apiserver checks it; none may be empty. */
function checkSelectors(spec: FleetSpec, clean: Clean, out: ProblemCollector): void {
  const check = (sel: LabelSelector | undefined, path: PathSegment[]): void => {
    // A selector that failed the schema is missing its failed parts: read only the others.
    if (!sel) return;
    const passed = (...rel: PathSegment[]): boolean => clean(...path, ...rel);
    for (const p of labelSelectorProblems(sel, passed)) out.add([...path, ...p.path], p.message);
  };
  check(spec.clusterSelector, ["spec", "clusterSelector"]);
  check(spec.addon?.clusterSelector, ["spec", "addon", "clusterSelector"]);
  (spec.groups ?? []).forEach((g: Group | undefined, i) =>
    check(g?.selector, ["spec", "groups", i, "selector"]),
  );
}

function checkOadp(spec: FleetSpec, baseDir: string, out: ProblemCollector): void {
  const keys = new Map<string, number>();
  spec.oadp.content.forEach((entry, i) => {
    const path: PathSegment[] = ["spec", "oadp", "content", i];
    if ((entry.template === undefined) === (entry.file === undefined)) {
      out.add(path, "needs exactly one of template (platform or lvms) or file");
      return;
    }
    const key = oadpDataKey(entry, spec.flavour);
    const where: PathSegment[] =
      entry.file !== undefined ? [...path, "file"] : [...path, "template"];
    const before = keys.get(key);
    if (before !== undefined) {
      out.add(
        where,
        entry.file !== undefined
          ? `a second file named ${clip(key)} (content[${before}] has it; each file is one ConfigMap key)`
          : `template ${entry.template} is listed twice`,
      );
      return;
    }
    keys.set(key, i);
    if (entry.file !== undefined) {
      const problem =
        configMapKeyProblem(key) ?? oadpFileProblem(resolve(baseDir, entry.file), entry.file);
      if (problem) out.add(where, problem);
    }
  });
}

/** Why a user's OADP file cannot be shipped, or undefined; reads it (bounded in size). */
function oadpFileProblem(file: string, shown: string): string | undefined {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) return `${clip(shown)} is not a file (looked at ${clip(file)})`;
    if (st.size > MAX_OADP_FILE_BYTES)
      return `${clip(shown)} is ${st.size} bytes; a ConfigMap holds at most 1 MiB, so at most ${MAX_OADP_FILE_BYTES} per file`;
    text = decodeUtf8(readFileSync(file));
  } catch (err) {
    if (err instanceof EncodingError) return err.in(clip(shown));
    const code = (err as { code?: string }).code;
    return code === "ENOENT"
      ? `file ${clip(shown)} does not exist (looked in ${clip(file)})`
      : `file ${clip(shown)} cannot be read: ${(err as Error).message}`;
  }
  return checkBackupRestoreFile(text, clip(shown));
}

/**
 * A ClusterGroupUpgrade or Placement lists cluster names; each object must stay writable, with
 * room for everything else in it.
 */
const MAX_LIST_BYTES = MAX_OBJECT_BYTES - 50_000;
const clusterListBytes = (names: readonly string[]): number =>
  names.reduce((n, c) => n + c.length + 4, 0);

function checkGroups(spec: FleetSpec, clean: Clean, out: ProblemCollector): void {
  if (!Array.isArray(spec.groups)) return;
  const groupOf = new Map<string, string>();
  const names = new Map<string, number>();
  const flavourKnown = clean("spec", "flavour");
  let placementBytes = 0;
  spec.groups.forEach((g: Group | undefined, i) => {
    const path: PathSegment[] = ["spec", "groups", i];
    if (!g) return;
    // Each rule reads only fields that passed the schema (a failed field is missing from g).
    const ok = (...fields: string[]): boolean => fields.every(f => clean(...path, f));
    if (ok("name")) {
      const first = names.get(g.name);
      if (first !== undefined)
        out.add([...path, "name"], `group ${g.name} is defined twice (first at groups[${first}])`);
      else names.set(g.name, i);
    }
    if (ok("clusters", "selector") && !g.clusters.length && !g.selector)
      out.add(path, "needs clusters, a selector, or both");
    if (ok("clusters", "name")) {
      g.clusters.forEach((c, j) => {
        const other = groupOf.get(c);
        if (other !== undefined && other !== g.name)
          out.add([...path, "clusters", j], `cluster ${c} is already in group ${other}`);
        else if (other === g.name)
          out.add([...path, "clusters", j], `cluster ${c} is listed twice`);
        groupOf.set(c, g.name);
      });
    }
    if (ok("clusters", "canaries")) {
      checkCanaries(g, path, out);
      const bytes = clusterListBytes(g.clusters) + clusterListBytes(g.canaries);
      if (bytes > MAX_LIST_BYTES)
        out.add(
          [...path, "clusters"],
          `the group's clusters and canaries fill ${bytes} bytes of one ClusterGroupUpgrade; at most ${MAX_LIST_BYTES} (split the group or use a selector)`,
        );
    }
    if (ok("clusters")) placementBytes += clusterListBytes(g.clusters);
    if (flavourKnown && ok("clusters", "selector", "canaries", "plan", "abortOnFailure"))
      checkFlavourFields(spec, g, path, out);
  });
  // Without spec.clusterSelector, one Placement per policy lists every group's clusters.
  if (!spec.clusterSelector && clean("spec", "clusterSelector") && placementBytes > MAX_LIST_BYTES)
    out.add(
      ["spec", "groups"],
      `the groups' cluster lists fill ${placementBytes} bytes of each policy's Placement; at most ${MAX_LIST_BYTES} (set spec.clusterSelector)`,
    );
}

/**
 * TALM checks canaries against every cluster the CGU targets, its list and what its selectors
 * match (controllers/clustergroupupgrade_controller.go validateCR after
 * getAllClustersForUpgrade): only a group without a selector is known to miss a canary.
 */
function checkCanaries(g: Group, path: PathSegment[], out: ProblemCollector): void {
  const members = new Set(g.clusters);
  const seen = new Set<string>();
  g.canaries.forEach((c, j) => {
    if (!g.selector && !members.has(c))
      out.add(
        [...path, "canaries", j],
        `canary ${c} is not in this group's clusters (TALM would report ClusterNotFound)`,
      );
    else if (seen.has(c)) out.add([...path, "canaries", j], `canary ${c} is listed twice`);
    seen.add(c);
  });
}

function checkFlavourFields(
  spec: FleetSpec,
  g: Group,
  path: PathSegment[],
  out: ProblemCollector,
): void {
  if (spec.flavour !== "ibgu") {
    if (g.plan)
      out.add([...path, "plan"], "plan applies to the ibgu flavour only (spec.flavour is cgu)");
    if (g.abortOnFailure)
      out.add(
        [...path, "abortOnFailure"],
        "abortOnFailure applies to the ibgu flavour only (spec.flavour is cgu)",
      );
    return;
  }
  if (g.clusters.length && !g.selector) {
    out.add(
      [...path, "clusters"],
      "the ibgu flavour selects clusters by label only (TALM's IBGU has no clusters field): add a selector",
    );
  }
  if (g.canaries.length)
    out.add(
      [...path, "canaries"],
      "canaries apply to the cgu flavour only (TALM's IBGU has no canaries)",
    );
  if (!g.plan) return;
  const problem = ibguPlanProblem(g.plan);
  if (problem) out.add([...path, "plan"], problem);
}

function checkStageMoves(
  spec: FleetSpec,
  previous: ReadonlyMap<string, DesiredStage>,
  clean: Clean,
  out: ProblemCollector,
): void {
  (spec.groups ?? []).forEach((g: Group | undefined, i) => {
    if (!g || !clean("spec", "groups", i, "name") || !clean("spec", "groups", i, "stage")) return;
    const problem = stageMoveProblem(previous.get(g.name) ?? "Idle", g.stage);
    if (problem) out.add(["spec", "groups", i, "stage"], `group ${g.name} ${problem}`);
  });
}
