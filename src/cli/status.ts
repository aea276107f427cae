// `ibu-gitops status`: the fleet as the hub sees it, from a hub kubeconfig (read-only): every
// cluster's ClusterUpgrade report, the ManagedClusters and the CGUs/IBGUs that give groups,
// counted with the hub controller's own model (addon/hub/fleet.ts), so the numbers are the
// dashboard's. A table with a progress bar per group, or JSON.
import { homedir } from "node:os";
import { join } from "node:path";
import { ApiError, KubeApi } from "../../addon/shared/kube.js";
import { loadKubeconfig } from "../../addon/shared/kubeconfig.js";
import type { ClusterUpgrade } from "../../addon/shared/report.js";
import { CGUS, IBGUS, REPORTS } from "../../addon/hub/controller.js";
import {
  Fleet,
  fleetSummary,
  toManagedCluster,
  type ClusterSummary,
  type FleetSummary,
  type ManagedClusterObject,
} from "../../addon/hub/fleet.js";
import { GROUP_LABEL, parseSelector, toUpgradeObject } from "../../addon/hub/groups.js";
import { parseDurationFlag, progressLine } from "./progress.js";

export interface StatusArgs {
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly output: string;
  readonly stuckAfter: string;
  readonly clusterSelector?: string;
}

const MANAGED_CLUSTERS = "/apis/cluster.open-cluster-management.io/v1/managedclusters";
const STATES = ["Idle", "Pending", "InProgress", "Completed", "Failed", "Blocked", "NoReport"];
const STAGES = ["Idle", "Prep", "Upgrade", "Rollback", "Unknown"];

/** Lists a collection; a kind the hub does not serve (no TALM, say) is an empty list. */
async function listOrNone<T>(api: KubeApi, path: string): Promise<T[]> {
  try {
    return await api.list<T>(path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return [];
    throw err;
  }
}

/** The hub's fleet: reports, ManagedClusters and upgrade objects, in the hub controller's model. */
export async function readFleet(api: KubeApi, clusterSelector?: string): Promise<Fleet> {
  if (clusterSelector) parseSelector(clusterSelector); // a clear error before any request
  const mcPath = clusterSelector
    ? `${MANAGED_CLUSTERS}?labelSelector=${encodeURIComponent(clusterSelector)}`
    : MANAGED_CLUSTERS;
  const [reports, clusters, cgus, ibgus] = await Promise.all([
    listOrNone<ClusterUpgrade>(api, REPORTS),
    listOrNone<ManagedClusterObject>(api, mcPath),
    listOrNone<unknown>(api, CGUS),
    listOrNone<unknown>(api, `${IBGUS}?labelSelector=${encodeURIComponent(GROUP_LABEL)}`),
  ]);
  const fleet = new Fleet(!!clusterSelector);
  for (const o of reports)
    if (o.report) fleet.reports.set(o.metadata.namespace, { report: o.report });
  for (const o of clusters) {
    const mc = toManagedCluster(o);
    fleet.managed.set(mc.name, mc);
  }
  for (const [kind, list] of [
    ["ClusterGroupUpgrade", cgus],
    ["ImageBasedGroupUpgrade", ibgus],
  ] as const) {
    for (const raw of list) {
      const u = toUpgradeObject({ ...(raw as object), kind });
      const m = (raw as { metadata?: { namespace?: string; name?: string } }).metadata;
      if (u) fleet.upgrades.set(`${kind}/${m?.namespace ?? ""}/${m?.name ?? ""}`, u);
    }
  }
  fleet.namesChanged();
  return fleet;
}

export async function runStatus(
  a: StatusArgs,
  write: (s: string) => void,
  tty = process.stdout.isTTY,
): Promise<number> {
  if (!["table", "json"].includes(a.output))
    throw new Error(`--output must be table or json, not ${JSON.stringify(a.output)}`);
  const stuckAfterMs = parseDurationFlag(a.stuckAfter, "--stuck-after");
  const file = a.kubeconfig ?? process.env.KUBECONFIG ?? join(homedir(), ".kube", "config");
  const api = new KubeApi(loadKubeconfig(file, a.context));
  const fleet = await readFleet(api, a.clusterSelector);
  const clusters = [...fleet.summaries(Date.now(), stuckAfterMs)];
  const summary = fleetSummary(clusters);
  if (a.output === "json") {
    write(`${JSON.stringify({ summary, clusters }, null, 2)}\n`);
    return 0;
  }
  write(renderStatus(summary, clusters, tty));
  return 0;
}

/** The table: totals, stage × state, groups with progress bars, and the clusters to look at. */
export function renderStatus(
  s: FleetSummary,
  clusters: readonly ClusterSummary[],
  bars: boolean,
): string {
  const out: string[] = [];
  out.push(
    `${s.total} clusters, ${s.reported} reporting, ${s.autoImportDisabled} with auto-import disabled`,
    "",
  );
  const states = STATES.filter(st => (s.byState[st] ?? 0) > 0);
  const rows = STAGES.filter(st => (s.byStage[st] ?? 0) > 0).map(stage => [
    stage,
    ...states.map(st => String(s.byStageState[stage]?.[st] ?? 0)),
    String(s.byStage[stage] ?? 0),
  ]);
  out.push(...table(["STAGE", ...states.map(x => x.toUpperCase()), "TOTAL"], rows), "");
  const groups = Object.keys(s.byGroup).sort();
  if (groups.length) {
    const groupRows = groups.map(g => {
      const c = s.byGroup[g]!;
      const done = (c.byState.Completed ?? 0) + (c.byState.Idle ?? 0);
      const failed = (c.byState.Failed ?? 0) + (c.byState.Blocked ?? 0);
      const stages = STAGES.filter(st => c.byStage[st])
        .map(st => `${st} ${c.byStage[st]}`)
        .join(", ");
      return [
        clean(g),
        String(c.total),
        stages,
        bars
          ? progressLine(done, failed, c.total, `${done}/${c.total} done, ${failed} failed`)
          : `${done}/${c.total} done, ${failed} failed`,
      ];
    });
    if (s.ungrouped) groupRows.push(["(no group)", String(s.ungrouped), "", ""]);
    out.push(...table(["GROUP", "CLUSTERS", "STAGES", "PROGRESS"], groupRows), "");
  }
  const byName = new Map(clusters.map(c => [c.name, c]));
  const list = (title: string, names: { count: number; clusters: readonly string[] }): void => {
    if (!names.count) return;
    out.push(`${title} (${names.count}):`);
    for (const n of names.clusters.slice(0, 50)) {
      const c = byName.get(n);
      const what = c ? `${c.stage} ${c.state}${c.message ? `: ${c.message}` : ""}` : "";
      out.push(clean(`  ${n}  ${what}`));
    }
    if (names.count > 50) out.push(`  … and ${names.count - 50} more (--output json lists all)`);
    out.push("");
  };
  list("Failed", s.failed);
  list("Stuck", s.stuck);
  list("Rolled back automatically", s.autoRolledBack);
  return `${out.join("\n").trimEnd()}\n`;
}

/** Text from clusters is untrusted: no control characters reach the terminal. */
// eslint-disable-next-line no-control-regex
const clean = (t: string): string => t.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?");

function table(head: readonly string[], rows: readonly string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? "").length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(head), ...rows.map(line)];
}
