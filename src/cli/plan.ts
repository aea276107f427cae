// `ibu-gitops plan`: the rollout as people read it — per group the desired stage, the
// ClusterGroupUpgrades or IBGU plan items, batches where clusters are known, timeouts and
// auto-import annotation actions. With a hub kubeconfig, selectors resolve to today's
// ManagedClusters (list only: nothing is written).
import * as k8s from "@kubernetes/client-node";
import type { Fleet, Group, LabelSelector, StageStep } from "../fleet/model.js";
import { loadFleet } from "../fleet/load.js";
import { cguName, ibguName, policyNames } from "../fleet/names.js";
import { CGU_STEPS, ibguPlans, stepOfAction, type IbguPlan } from "../fleet/stages.js";
import { fleetFiles } from "./fleet-files.js";

export interface PlanArgs {
  readonly files: readonly string[];
  readonly output: string;
  readonly kubeconfig?: string;
}

export interface PlanStep {
  readonly object: string;
  readonly kind: "ClusterGroupUpgrade" | "ImageBasedGroupUpgrade";
  readonly does: string;
  readonly maxConcurrency: number;
  readonly timeoutMinutes: number;
  readonly autoImport: string;
  /** Batches of clusters, when the clusters are known. */
  readonly batches?: string[][];
}

export interface PlanGroup {
  readonly fleet: string;
  readonly group: string;
  readonly desiredStage: string;
  readonly selects: string;
  readonly clusters?: string[];
  readonly steps: PlanStep[];
}

type Cluster = { name: string; labels: Record<string, string> };

export async function runPlan(args: PlanArgs, write: (s: string) => void): Promise<number> {
  if (!["table", "markdown", "json"].includes(args.output)) {
    throw new Error(`--output must be table, markdown or json, not ${JSON.stringify(args.output)}`);
  }
  const hubClusters = args.kubeconfig ? await listManagedClusters(args.kubeconfig) : undefined;
  const groups = fleetFiles(args.files).flatMap(f => planFleet(loadFleet(f), hubClusters));
  write(
    args.output === "json"
      ? `${JSON.stringify(groups, null, 2)}\n`
      : render(groups, args.output === "markdown"),
  );
  return 0;
}

export function planFleet(fleet: Fleet, hubClusters?: readonly Cluster[]): PlanGroup[] {
  return fleet.spec.groups.map(g => {
    const clusters = groupClusters(g, hubClusters);
    const steps =
      fleet.spec.flavour === "cgu" ? cguSteps(fleet, g, clusters) : ibguSteps(fleet, g, clusters);
    return {
      fleet: fleet.metadata.name,
      group: g.name,
      desiredStage: g.stage,
      selects: describeSelection(g),
      clusters,
      steps,
    };
  });
}

const CGU_DOES: Record<StageStep, string> = {
  prep: "enforce oadp-cm + prep policies (stage Prep)",
  upgrade: "enforce upgrade policy (stage Upgrade)",
  finalize: "enforce finalize policy (stage Idle)",
  rollback: "enforce rollback policy (stage Rollback)",
  abort: "enforce finalize policy (stage Idle: cancel)",
};

const CGU_AUTO_IMPORT: Record<StageStep, string> = {
  prep: "—",
  upgrade: "add before start; remove per completed cluster",
  finalize: "remove before start",
  rollback: "remove before start",
  abort: "remove before start",
};

function cguSteps(fleet: Fleet, g: Group, clusters?: string[]): PlanStep[] {
  return CGU_STEPS[g.stage].map(step => {
    const r = fleet.spec.rollout[step];
    return {
      object: cguName(
        g.name,
        step,
        fleet.spec.seedImage.version,
        policyNames(fleet.spec.policyName),
      ),
      kind: "ClusterGroupUpgrade",
      does: CGU_DOES[step],
      maxConcurrency: r.maxConcurrency,
      timeoutMinutes: r.timeout,
      autoImport: CGU_AUTO_IMPORT[step],
      ...(clusters ? { batches: batches(clusters, g.canaries, r.maxConcurrency) } : {}),
    };
  });
}

function ibguSteps(fleet: Fleet, g: Group, clusters?: string[]): PlanStep[] {
  const set = g.plan ? { main: g.plan as IbguPlan } : ibguPlans(g.stage, g.abortOnFailure);
  const v = fleet.spec.seedImage.version;
  const entries: Array<[string, IbguPlan | undefined]> = [
    [ibguName(g.name, v), set.main],
    [ibguName(g.name, v, "abort"), set.abort],
    [ibguName(g.name, v, "rollback"), set.rollback],
  ];
  return entries.flatMap(([object, plan]) =>
    (plan ?? []).map((actions, i) => {
      const r = fleet.spec.rollout[stepOfAction(actions[0] ?? "Prep")];
      return {
        object: `${object} [${i}]`,
        kind: "ImageBasedGroupUpgrade" as const,
        does: actions.join(" + "),
        maxConcurrency: r.maxConcurrency,
        timeoutMinutes: r.timeout,
        autoImport: actions.includes("Upgrade")
          ? "add before start; remove per completed cluster"
          : "—",
        ...(clusters ? { batches: batches(clusters, [], r.maxConcurrency) } : {}),
      };
    }),
  );
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

async function listManagedClusters(kubeconfig: string): Promise<Cluster[]> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const api = kc.makeApiClient(k8s.CustomObjectsApi);
  const list = (await api.listClusterCustomObject({
    group: "cluster.open-cluster-management.io",
    version: "v1",
    plural: "managedclusters",
  })) as { items: Array<{ metadata: { name: string; labels?: Record<string, string> } }> };
  return list.items.map(i => ({ name: i.metadata.name, labels: i.metadata.labels ?? {} }));
}

function render(groups: readonly PlanGroup[], markdown: boolean): string {
  const head = [
    "fleet",
    "group",
    "desired stage",
    "clusters",
    "object",
    "does",
    "batch",
    "timeout",
    "auto-import annotation",
    "batches",
  ];
  const rows: string[][] = [];
  for (const g of groups) {
    const who = g.clusters ? `${g.clusters.length} (${g.selects})` : g.selects;
    if (!g.steps.length)
      rows.push([g.fleet, g.group, g.desiredStage, who, "—", "nothing (Idle)", "", "", "", ""]);
    for (const s of g.steps) {
      const b = s.batches
        ? s.batches.map(x => `[${x.join(" ")}]`).join(" ")
        : "resolved by TALM at run time";
      rows.push([
        g.fleet,
        g.group,
        g.desiredStage,
        who,
        s.object,
        s.does,
        String(s.maxConcurrency),
        `${s.timeoutMinutes} min`,
        s.autoImport,
        b,
      ]);
    }
  }
  if (markdown) {
    const esc = (c: string): string => c.replace(/\|/g, "\\|");
    return (
      [
        `| ${head.join(" | ")} |`,
        `|${head.map(() => "---").join("|")}|`,
        ...rows.map(r => `| ${r.map(esc).join(" | ")} |`),
      ].join("\n") + "\n"
    );
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? "").length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(head), line(widths.map(w => "-".repeat(w))), ...rows.map(line)].join("\n") + "\n";
}
