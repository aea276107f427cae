// `ibu-gitops plan`: what this commit's upgrade objects will do, read from the synthesized
// output itself (so the plan is the commit): per group each CGU or IBGU plan item, its batches,
// what its timeout bounds, whether it is already complete, and the auto-import actions; per
// fleet the worst-case window. With a hub kubeconfig (read-only), selectors resolve to today's
// ManagedClusters and the CGUs' status says which steps are complete or running.
import { parseAllDocuments } from "yaml";
import type { Fleet, Group, LabelSelector } from "../fleet/model.js";
import { loadFleet } from "../fleet/load.js";
import { synthFleet } from "../synth.js";
import { formatted, kubeconfigPath } from "./common.js";
import { fleetFiles } from "./fleet-files.js";
import { checkFleets } from "./synth.js";

export interface PlanArgs {
  readonly files: readonly string[];
  /** table, markdown, json or yaml */
  readonly output: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  /**
   * The output folder (the CLI's --output-dir, default policies): a fleet synth would refuse against it
   * (a stage move LCA rejects, an IBGU change TALM refuses, ...) is an error, not a plan.
   * Absent: not checked.
   */
  readonly out?: string;
}

/** A step's state: from the commit order, or, with a hub, from the CGU's status. */
export type StepState = "earlier commit" | "complete" | "timed out" | "running" | "pending";

export interface PlanStep {
  /** The CGU's name; for an IBGU plan item `<ibgu> [<index>]`. */
  readonly object: string;
  readonly kind: "ClusterGroupUpgrade" | "ImageBasedGroupUpgrade";
  readonly does: string;
  readonly maxConcurrency: number;
  readonly canaries: readonly string[];
  readonly timeoutMinutes: number;
  /** What the timeout bounds, in TALM's terms. */
  readonly timeoutBounds: string;
  readonly autoImport: string;
  /** CGUs this one waits for (`spec.blockingCRs`, `<namespace>/<name>`). */
  readonly after?: string[];
  /** Batches when the clusters are known: the hub's remediationPlan, else TALM's rule. */
  readonly batches?: string[][];
  readonly batchesFrom?: "hub CGU status" | "TALM's rule";
  readonly state: StepState;
  /** With a hub and a running CGU: its current batch (1-based). */
  readonly currentBatch?: number;
  /** Minutes this step can still take: its timeout unless complete. */
  readonly windowMinutes: number;
}

export interface PlanGroup {
  readonly fleet: string;
  readonly group: string;
  readonly desiredStage: string;
  readonly selects: string;
  /** Known clusters: listed ones, plus the hub's for a selector. */
  readonly clusters?: string[];
  readonly steps: PlanStep[];
  /** Worst case: the pending steps one after another. */
  readonly windowMinutes: number;
}

export interface PlanFleet {
  readonly fleet: string;
  readonly file: string;
  readonly flavour: string;
  readonly groups: PlanGroup[];
  /** Worst case for the commit: groups run side by side (no blockingCRs), so the longest group. */
  readonly windowMinutes: number;
}

type Cluster = { name: string; labels: Record<string, string> };

/** What the hub tells a plan: its ManagedClusters and its CGUs, by name. */
export interface HubView {
  readonly clusters: readonly Cluster[];
  readonly cgus: ReadonlyMap<string, HubCgu>;
  /** Why CGUs could not be read (RBAC), if so. */
  readonly cguNote?: string;
}

export interface HubCgu {
  readonly succeeded?: "True" | "False";
  readonly remediationPlan?: string[][];
  readonly currentBatch?: number;
}

export async function runPlan(args: PlanArgs, write: (s: string) => void): Promise<number> {
  // Plan only what synth would write: the same checks against the existing output.
  if (args.out !== undefined) checkFleets(args.files, args.out);
  const hub = args.kubeconfig ? await readHub(args.kubeconfig, args.context) : undefined;
  const fleets = fleetFiles(args.files).map(f => planFleet(loadFleet(f), f, hub));
  write(
    formatted(args.output, fleets, () =>
      args.output === "markdown" ? markdown(fleets) : render(fleets, hub),
    ),
  );
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The plan, from the synthesized upgrade objects.

interface Obj {
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: {
    managedPolicies?: string[];
    blockingCRs?: Array<{ name: string; namespace: string }>;
    remediationStrategy?: { maxConcurrency: number; timeout: number; canaries?: string[] };
    actions?: {
      beforeEnable?: {
        addClusterAnnotations?: Record<string, string>;
        removeClusterAnnotations?: string[];
      };
      afterCompletion?: { removeClusterAnnotations?: string[] };
    };
    plan?: Array<{
      actions: string[];
      rolloutStrategy: { maxConcurrency: number; timeout: number };
    }>;
  };
}

/** The IBGU action a desired stage adds to the plan: items before it came with earlier commits. */
const STAGE_ACTION: Readonly<Record<string, string>> = {
  Prep: "Prep",
  Upgrade: "Upgrade",
  Finalize: "FinalizeUpgrade",
  Rollback: "Rollback",
  FinalizeRollback: "FinalizeRollback",
  Abort: "Abort",
};

const CGU_TIMEOUT = "the whole CGU: its batches share it";
const IBGU_TIMEOUT = "this plan item: TALM runs it as its own CGU, after the one before it";

export function planFleet(fleet: Fleet, file: string, hub?: HubView): PlanFleet {
  const out = synthFleet(fleet);
  const groups = fleet.spec.groups.map(g => {
    const objects = parseAllDocuments(out.get(`upgrades/${g.name}.yaml`) ?? "")
      .map(d => d.toJS() as Obj | null)
      .filter((o): o is Obj => !!o && typeof o === "object");
    const clusters = groupClusters(g, hub?.clusters);
    const steps = objects.flatMap(o =>
      o.kind === "ImageBasedGroupUpgrade"
        ? ibguSteps(o, g, clusters, hub)
        : [cguStep(o, g, clusters, hub, objects)],
    );
    return {
      fleet: fleet.metadata.name,
      group: g.name,
      desiredStage: g.stage,
      selects: describeSelection(g),
      ...(clusters ? { clusters } : {}),
      steps,
      windowMinutes: steps.reduce((n, s) => n + s.windowMinutes, 0),
    };
  });
  return {
    fleet: fleet.metadata.name,
    file,
    flavour: fleet.spec.flavour,
    groups,
    windowMinutes: Math.max(0, ...groups.map(g => g.windowMinutes)),
  };
}

function autoImportOf(o: Obj): string {
  const a = o.spec.actions;
  const parts: string[] = [];
  if (Object.keys(a?.beforeEnable?.addClusterAnnotations ?? {}).length)
    parts.push("add before start");
  if (a?.beforeEnable?.removeClusterAnnotations?.length) parts.push("remove before start");
  if (a?.afterCompletion?.removeClusterAnnotations?.length)
    parts.push("remove per completed cluster");
  return parts.join("; ") || "—";
}

/** A state from the hub's CGU, else from the commit order. */
function stateOf(cgu: HubCgu | undefined, earlier: boolean, hubRead: boolean): StepState {
  if (cgu?.succeeded === "True") return "complete";
  if (cgu?.succeeded === "False") return "timed out";
  if (cgu) return "running";
  return earlier && !hubRead ? "earlier commit" : "pending";
}

function hubBatches(
  cgu: HubCgu | undefined,
  clusters: string[] | undefined,
  canaries: readonly string[],
  maxConcurrency: number,
): Pick<PlanStep, "batches" | "batchesFrom" | "currentBatch"> {
  if (cgu?.remediationPlan)
    return {
      batches: cgu.remediationPlan,
      batchesFrom: "hub CGU status",
      ...(cgu.currentBatch !== undefined ? { currentBatch: cgu.currentBatch } : {}),
    };
  if (!clusters) return {};
  return { batches: batches(clusters, canaries, maxConcurrency), batchesFrom: "TALM's rule" };
}

function cguStep(
  o: Obj,
  g: Group,
  clusters: string[] | undefined,
  hub: HubView | undefined,
  all: readonly Obj[],
): PlanStep {
  const r = o.spec.remediationStrategy ?? { maxConcurrency: 1, timeout: 0 };
  const canaries = r.canaries ?? [];
  // The group's CGUs are its stages in order; all but the last came with earlier commits.
  const earlier = all.indexOf(o) < all.length - 1;
  const cgu = hub?.cgus.get(`${o.metadata.namespace}/${o.metadata.name}`);
  const state = stateOf(cgu, earlier, !!hub && !hub.cguNote);
  const policies = (o.spec.managedPolicies ?? []).map(p => p.replace(/-policy$/, ""));
  return {
    object: o.metadata.name,
    kind: "ClusterGroupUpgrade",
    does: `enforce ${policies.join(" + ")}`,
    maxConcurrency: r.maxConcurrency,
    canaries,
    timeoutMinutes: r.timeout,
    timeoutBounds: CGU_TIMEOUT,
    autoImport: autoImportOf(o),
    ...(o.spec.blockingCRs?.length
      ? { after: o.spec.blockingCRs.map(b => `${b.namespace}/${b.name}`) }
      : {}),
    ...hubBatches(cgu, clusters, canaries, r.maxConcurrency),
    state,
    windowMinutes: isFinished(state) ? 0 : r.timeout,
  };
}

const isFinished = (s: StepState): boolean =>
  s === "complete" || s === "timed out" || s === "earlier commit";

function ibguSteps(
  o: Obj,
  g: Group,
  clusters: string[] | undefined,
  hub: HubView | undefined,
): PlanStep[] {
  const plan = o.spec.plan ?? [];
  const action = STAGE_ACTION[g.stage];
  const firstNew = plan.findIndex(p => p.actions.includes(action ?? ""));
  return plan.map((item, i) => {
    // TALM's CGU for a plan item: `<ibgu>-<actions lowercased, joined>-<index>`.
    const cguName = `${o.metadata.name}-${item.actions.map(a => a.toLowerCase()).join("-")}-${i}`;
    const cgu = hub?.cgus.get(`${o.metadata.namespace}/${cguName}`);
    const state = stateOf(cgu, firstNew > 0 && i < firstNew, !!hub && !hub.cguNote);
    const r = item.rolloutStrategy;
    return {
      object: `${o.metadata.name} [${i}]`,
      kind: "ImageBasedGroupUpgrade" as const,
      does: item.actions.join(" + "),
      maxConcurrency: r.maxConcurrency,
      canaries: [],
      timeoutMinutes: r.timeout,
      timeoutBounds: IBGU_TIMEOUT,
      // TALM adds these to the CGU of a plan item with Upgrade.
      autoImport: item.actions.includes("Upgrade")
        ? "add before start; remove per completed cluster"
        : "—",
      ...hubBatches(cgu, clusters, [], r.maxConcurrency),
      state,
      windowMinutes: isFinished(state) ? 0 : r.timeout,
    };
  });
}

/** TALM's remediation plan: each canary its own batch, then chunks of maxConcurrency. */
export function batches(
  clusters: readonly string[],
  canaries: readonly string[],
  maxConcurrency: number,
): string[][] {
  const rest = clusters.filter(c => !canaries.includes(c));
  const out = canaries.filter(c => clusters.includes(c)).map(c => [c]);
  for (let i = 0; i < rest.length; i += maxConcurrency) out.push(rest.slice(i, i + maxConcurrency));
  return out;
}

function groupClusters(g: Group, hub?: readonly Cluster[]): string[] | undefined {
  if (!hub) return g.selector ? undefined : [...g.clusters];
  const selected = g.selector
    ? hub.filter(c => matches(g.selector!, c.labels)).map(c => c.name)
    : [];
  return [...new Set([...g.clusters, ...selected.sort()])];
}

/** Kubernetes label-selector semantics. */
export function matches(sel: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  const okLabels = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const okExprs = (sel.matchExpressions ?? []).every(e => {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const v = labels[e.key];
    switch (e.operator) {
      case "In":
        return has && (e.values ?? []).includes(v!);
      case "NotIn":
        return !has || !(e.values ?? []).includes(v!);
      case "Exists":
        return has;
      default:
        return !has;
    }
  });
  return okLabels && okExprs;
}

function describeSelection(g: Group): string {
  const parts: string[] = [];
  if (g.clusters.length) parts.push(`${g.clusters.length} listed`);
  if (g.selector) {
    const ml = Object.entries(g.selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
    const me = (g.selector.matchExpressions ?? []).map(e =>
      `${e.key} ${e.operator} ${(e.values ?? []).join(",")}`.trim(),
    );
    parts.push(`selector ${[...ml, ...me].join(", ") || "(all)"}`);
  }
  return parts.join(" + ");
}

// ---------------------------------------------------------------------------------------------
// The hub, read-only: ManagedClusters (list) and CGUs (list; optional).

const MANAGED_CLUSTERS = "/apis/cluster.open-cluster-management.io/v1/managedclusters";
const CGUS = "/apis/ran.openshift.io/v1alpha1/clustergroupupgrades";

interface RawCgu {
  metadata: { name: string; namespace: string };
  status?: {
    remediationPlan?: string[][];
    status?: { currentBatch?: number };
    conditions?: Array<{ type: string; status: string }>;
  };
}

async function readHub(kubeconfig: string, context?: string): Promise<HubView> {
  // The small client (addon/shared): client-node takes longer to load than a plan takes to run.
  const [{ KubeApi, ApiError }, { loadKubeconfig }] = await Promise.all([
    import("../../addon/shared/kube.js"),
    import("../../addon/shared/kubeconfig.js"),
  ]);
  const api = new KubeApi(loadKubeconfig(kubeconfigPath(kubeconfig), context));
  const mcs = await api.list<{ metadata: { name: string; labels?: Record<string, string> } }>(
    MANAGED_CLUSTERS,
  );
  const cgus = new Map<string, HubCgu>();
  let cguNote: string | undefined;
  try {
    for (const c of await api.list<RawCgu>(CGUS)) {
      const s = c.status?.conditions?.find(x => x.type === "Succeeded")?.status;
      cgus.set(`${c.metadata.namespace}/${c.metadata.name}`, {
        ...(s === "True" || s === "False" ? { succeeded: s } : {}),
        ...(c.status?.remediationPlan ? { remediationPlan: c.status.remediationPlan } : {}),
        ...(c.status?.status?.currentBatch !== undefined
          ? { currentBatch: c.status.status.currentBatch }
          : {}),
      });
    }
  } catch (err) {
    // A planner allowed to list ManagedClusters only still gets the batches.
    if (!(err instanceof ApiError) || ![403, 404].includes(err.status)) throw err;
    cguNote = `cannot list ClusterGroupUpgrades (${err.status}): steps' state not read from the hub`;
  }
  return {
    clusters: mcs.map(i => ({ name: i.metadata.name, labels: i.metadata.labels ?? {} })),
    cgus,
    ...(cguNote ? { cguNote } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Rendering: 100 columns, one block per group.

const WIDTH = 100;

/** `4 h 30 min`, `45 min`. */
export function minutesText(m: number): string {
  if (m < 60) return `${m} min`;
  return m % 60 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

const STATE_MARK: Readonly<Record<StepState, string>> = {
  "earlier commit": "✔ done (earlier commit)",
  complete: "✔ complete (hub)",
  "timed out": "✖ timed out (hub)",
  running: "▶ running (hub)",
  pending: "○ to run",
};

function batchLine(s: PlanStep): string {
  if (!s.batches)
    return "batches: resolved by TALM at run time (selector; --kubeconfig counts them)";
  const sizes = s.batches.map(b => b.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const canaries = s.batches.filter(b => b.length === 1 && s.canaries.includes(b[0]!)).length;
  const parts = [
    `${s.batches.length} batch${s.batches.length === 1 ? "" : "es"} for ${total} clusters`,
  ];
  if (canaries) parts.push(`${canaries} canary batch${canaries === 1 ? "" : "es"} first`);
  parts.push(`≤${s.maxConcurrency} per batch`);
  if (s.currentBatch !== undefined) parts.push(`now batch ${s.currentBatch}`);
  const shown = s.batches.map(b => (b.length <= 3 ? `[${b.join(" ")}]` : `[${b.length}]`));
  return `batches: ${parts.join(", ")}${s.batchesFrom === "hub CGU status" ? " (hub)" : ""}: ${shown.join(" ")}`;
}

/** Wraps `text` to WIDTH columns with a hanging indent. */
function wrap(text: string, indent: string, hang: string): string[] {
  const lines: string[] = [];
  let line = indent;
  for (const word of text.split(" ")) {
    if (line.length + word.length + 1 > WIDTH && line.trim()) {
      lines.push(line.trimEnd());
      line = hang;
    }
    line += (line === indent || line === hang ? "" : " ") + word;
  }
  lines.push(line.trimEnd());
  return lines;
}

const TIMEOUT_NOTE: Readonly<Record<string, string>> = {
  cgu: "a CGU's timeout bounds the whole CGU: its batches share it (TALM gives each batch the time left over the batches left)",
  ibgu: "each IBGU plan item runs as its own CGU after the one before it; its timeout bounds that item",
};

function stepLines(s: PlanStep): string[] {
  const head = `${STATE_MARK[s.state]} ${s.object} ${s.does}`;
  if (isFinished(s.state)) return wrap(head, "  ", "      ");
  const what = s.kind === "ClusterGroupUpgrade" ? "bounds the whole CGU" : "bounds this plan item";
  return [
    ...wrap(`${head} · timeout ${minutesText(s.timeoutMinutes)} (${what})`, "  ", "      "),
    ...(s.after ? wrap(`after: ${s.after.join(", ")} (blockingCRs)`, "      ", "        ") : []),
    ...wrap(batchLine(s), "      ", "        "),
    ...wrap(`auto-import annotation: ${s.autoImport}`, "      ", "        "),
  ];
}

function render(fleets: readonly PlanFleet[], hub: HubView | undefined): string {
  const out: string[] = [];
  if (hub?.cguNote) out.push(...wrap(`note: ${hub.cguNote}`, "", "  "), "");
  for (const f of fleets) {
    out.push(`fleet ${f.fleet} (${f.file}, ${f.flavour} flavour)`);
    out.push(
      ...wrap(
        `worst-case window ${minutesText(f.windowMinutes)}: groups run side by side, a group's steps one after another, each to its timeout; ${TIMEOUT_NOTE[f.flavour] ?? ""}`,
        "  ",
        "  ",
      ),
    );
    for (const g of f.groups) {
      const who = g.clusters ? `${g.clusters.length} clusters (${g.selects})` : g.selects;
      out.push(
        "",
        ...wrap(
          `group ${g.group} → ${g.desiredStage} · ${who} · window ${minutesText(g.windowMinutes)}`,
          "",
          "  ",
        ),
      );
      if (!g.steps.length) out.push("  nothing to run (Idle)");
      for (const s of g.steps) out.push(...stepLines(s));
    }
    out.push("");
  }
  return `${out.join("\n").trimEnd()}\n`;
}

function markdown(fleets: readonly PlanFleet[]): string {
  const head = [
    "fleet",
    "group",
    "stage",
    "object",
    "does",
    "state",
    "batches",
    "timeout",
    "auto-import",
  ];
  const esc = (c: string): string => c.replace(/\|/g, "\\|");
  const rows: string[][] = [];
  for (const f of fleets)
    for (const g of f.groups)
      for (const s of g.steps)
        rows.push([
          f.fleet,
          g.group,
          g.desiredStage,
          s.object,
          s.does,
          s.state,
          s.batches ? String(s.batches.length) : "at run time",
          `${minutesText(s.timeoutMinutes)} (${s.kind === "ClusterGroupUpgrade" ? "whole CGU" : "plan item"})`,
          s.autoImport,
        ]);
  const windows = fleets.map(
    f => `- ${f.fleet}: worst-case window ${minutesText(f.windowMinutes)}`,
  );
  return [
    `| ${head.join(" | ")} |`,
    `|${head.map(() => "---").join("|")}|`,
    ...rows.map(r => `| ${r.map(esc).join(" | ")} |`),
    "",
    ...windows,
    "",
  ].join("\n");
}
