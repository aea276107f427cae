// Loads a fleet file: parses YAML with positions, checks the schema, then the rules that span
// fields (a cluster in two groups, name lengths, files that must exist). Every problem is
// reported at once, each with file, YAML path and line.
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { FleetError, ProblemCollector, type PathSegment } from "./errors.js";
import {
  FLEET_API_VERSION,
  FLEET_KIND,
  FLEET_SPEC_SCHEMA,
  STAGE_STEPS,
  addonProblems,
  type DesiredStage,
  type Fleet,
  type FleetSpec,
} from "./model.js";
import { dnsSubdomain, validate } from "./schema.js";
import { cguName, ibguName, policyNames } from "./names.js";
import { ibguPlanProblem, stageMoveProblem, type IbguPlan } from "./stages.js";

export interface LoadOptions {
  /**
   * Each group's desired stage in the output generated before (absent groups were Idle).
   * When given, a move LCA would reject is a problem.
   */
  readonly previousStages?: ReadonlyMap<string, DesiredStage>;
}

/** Reads and validates a fleet file; throws FleetError listing every problem. */
export function loadFleet(file: string, opts: LoadOptions = {}): Fleet {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new FleetError([
      { file, path: "", line: 0, column: 0, message: `cannot read: ${(err as Error).message}` },
    ]);
  }
  return parseFleet(text, file, opts);
}

/** Validates fleet YAML text; `file` names it in problems and anchors relative paths. */
export function parseFleet(text: string, file: string, opts: LoadOptions = {}): Fleet {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const out = new ProblemCollector(file, doc, lines);
  for (const e of doc.errors) {
    const pos = e.linePos?.[0];
    out.problems.push({
      file,
      path: "",
      line: pos?.line ?? 0,
      column: pos?.col ?? 0,
      message: `YAML: ${e.message.split("\n")[0]}`,
    });
  }
  if (doc.errors.length) throw new FleetError(out.problems);

  const raw = doc.toJS() as Record<string, unknown> | null;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    out.add([], "must be a mapping with apiVersion, kind, metadata and spec");
    throw new FleetError(out.problems);
  }
  checkHeader(raw, out);
  const spec = validate(FLEET_SPEC_SCHEMA, raw.spec, ["spec"], out) as FleetSpec | undefined;
  const baseDir = dirname(resolve(file));
  if (spec) checkRules(spec, baseDir, out);
  if (spec && opts.previousStages) checkStageMoves(spec, opts.previousStages, out);
  if (out.problems.length) throw new FleetError(out.problems);
  const metadata = raw.metadata as { name: string };
  return {
    apiVersion: FLEET_API_VERSION,
    kind: FLEET_KIND,
    metadata: { name: metadata.name },
    spec: spec!,
    baseDir,
    file,
  };
}

function checkHeader(raw: Record<string, unknown>, out: ProblemCollector): void {
  if (raw.apiVersion !== FLEET_API_VERSION) {
    out.add(
      ["apiVersion"],
      `must be ${FLEET_API_VERSION}, not ${JSON.stringify(raw.apiVersion ?? null)}`,
    );
  }
  if (raw.kind !== FLEET_KIND)
    out.add(["kind"], `must be ${FLEET_KIND}, not ${JSON.stringify(raw.kind ?? null)}`);
  const md = raw.metadata as Record<string, unknown> | undefined;
  if (!md || typeof md.name !== "string")
    out.add(["metadata", "name"], "is required (the fleet's name)");
  else {
    const msg = dnsSubdomain(md.name);
    if (msg) out.add(["metadata", "name"], msg);
  }
  for (const key of Object.keys(raw)) {
    if (!["apiVersion", "kind", "metadata", "spec"].includes(key))
      out.add([key], "unknown field; known fields: apiVersion, kind, metadata, spec");
  }
  for (const key of Object.keys(md ?? {})) {
    if (!["name", "labels", "annotations"].includes(key))
      out.add(["metadata", key], "unknown field; known fields: name, labels, annotations");
  }
}

function checkRules(spec: FleetSpec, baseDir: string, out: ProblemCollector): void {
  checkGroups(spec, out);
  for (const p of addonProblems(spec)) out.add(p.path, p.message);
  // ACM's webhook: a root policy's namespace and name together are at most 62 characters,
  // because the replicated policy is named <namespace>.<name> (63 with the dot).
  const tooLong = (Object.values(policyNames(spec.policyName)) as string[]).find(
    policy => spec.hub.policyNamespace.length + policy.length > 62,
  );
  if (tooLong) {
    const len = spec.hub.policyNamespace.length + tooLong.length;
    out.add(
      ["spec", "policyName"],
      `policy ${spec.hub.policyNamespace}/${tooLong} is ${len} characters of namespace + name; ACM allows at most 62 (shorten spec.policyName or spec.hub.policyNamespace)`,
    );
  } else {
    checkDerivedNames(spec, out);
  }
  spec.oadp.content.forEach((entry, i) => {
    const path: PathSegment[] = ["spec", "oadp", "content", i];
    if ((entry.template === undefined) === (entry.file === undefined)) {
      out.add(path, "needs exactly one of template (platform or lvms) or file");
    } else if (entry.file !== undefined && !existsSync(resolve(baseDir, entry.file))) {
      out.add(
        [...path, "file"],
        `file ${entry.file} does not exist (looked in ${resolve(baseDir, entry.file)})`,
      );
    }
  });
}

/**
 * Every CGU and IBGU name a group can get, through the budget of names TALM derives from them
 * (src/fleet/names.ts). Only the policy prefix can make that impossible (a group name is
 * shortened), so the first failure is reported once, at spec.policyName.
 */
function checkDerivedNames(spec: FleetSpec, out: ProblemCollector): void {
  const names = policyNames(spec.policyName);
  const version = spec.seedImage.version;
  try {
    for (const g of spec.groups) {
      for (const step of STAGE_STEPS) cguName(g.name, step, version, names);
      for (const kind of [undefined, "abort", "rollback"] as const) ibguName(g.name, version, kind);
    }
  } catch (err) {
    out.add(["spec", "policyName"], (err as Error).message);
  }
}

function checkGroups(spec: FleetSpec, out: ProblemCollector): void {
  const groupOf = new Map<string, string>();
  const names = new Set<string>();
  spec.groups.forEach((g, i) => {
    const path: PathSegment[] = ["spec", "groups", i];
    if (names.has(g.name)) out.add([...path, "name"], `group ${g.name} is defined twice`);
    names.add(g.name);
    if (!g.clusters.length && !g.selector) out.add(path, "needs clusters, a selector, or both");
    g.clusters.forEach((c, j) => {
      const other = groupOf.get(c);
      if (other !== undefined && other !== g.name)
        out.add([...path, "clusters", j], `cluster ${c} is already in group ${other}`);
      else if (other === g.name) out.add([...path, "clusters", j], `cluster ${c} is listed twice`);
      groupOf.set(c, g.name);
    });
    g.canaries.forEach((c, j) => {
      if (g.clusters.length && !g.clusters.includes(c)) {
        out.add(
          [...path, "canaries", j],
          `canary ${c} is not in this group's clusters (TALM would report ClusterNotFound)`,
        );
      }
    });
    if (g.canaries.length && !g.clusters.length) {
      out.add(
        [...path, "canaries"],
        "canaries need an explicit clusters list (TALM checks canaries against it)",
      );
    }
    checkIbguFields(spec, g, path, out);
    if (spec.flavour === "ibgu" && g.clusters.length && !g.selector) {
      out.add(
        [...path, "clusters"],
        "the ibgu flavour selects clusters by label only (TALM's IBGU has no clusters field): add a selector",
      );
    }
  });
}

function checkIbguFields(
  spec: FleetSpec,
  g: FleetSpec["groups"][number],
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
  if (!g.plan) return;
  if (g.plan.length > 6)
    out.add([...path, "plan"], `has ${g.plan.length} items; TALM allows at most 6`);
  g.plan.forEach((item, i) => {
    if (item.length > 4)
      out.add([...path, "plan", i], `has ${item.length} actions; TALM allows at most 4`);
  });
  const problem = ibguPlanProblem(g.plan as IbguPlan);
  if (problem) out.add([...path, "plan"], problem);
}

function checkStageMoves(
  spec: FleetSpec,
  previous: ReadonlyMap<string, DesiredStage>,
  out: ProblemCollector,
): void {
  spec.groups.forEach((g, i) => {
    const problem = stageMoveProblem(previous.get(g.name) ?? "Idle", g.stage);
    if (problem) out.add(["spec", "groups", i, "stage"], `group ${g.name} ${problem}`);
  });
}
