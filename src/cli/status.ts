// `ibu-gitops status`: the fleet as the hub sees it, from a hub kubeconfig (read-only): every
// cluster's ClusterUpgrade report, the ManagedClusters and the CGUs/IBGUs that give groups,
// counted with the hub controller's own model (addon/hub/fleet.ts), so the numbers are the
// dashboard's. A table with a progress bar per group and batch, or JSON/YAML; --watch redraws.
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
  type ProgressCounts,
} from "../../addon/hub/fleet.js";
import { GROUP_LABEL, parseSelector, toUpgradeObject } from "../../addon/hub/groups.js";
import { FORMATS, formatted, kubeconfigPath, UsageError } from "./common.js";
import { parseDurationFlag, progressLine } from "./progress.js";

export interface StatusArgs {
  readonly kubeconfig?: string;
  readonly context?: string;
  /** table, json or yaml */
  readonly output: string;
  /** Go-style duration: no progress for this long is stuck. */
  readonly stuckAfter: string;
  readonly clusterSelector?: string;
  /** Read the hub again every `interval` and print what changed, until `signal`. */
  readonly watch?: boolean;
  /** Go-style duration. @default 5s */
  readonly interval?: string;
  readonly signal?: AbortSignal;
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
  for (const o of reports) if (o.report) fleet.setReport(o.metadata.namespace, o.report);
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
  if (!(FORMATS as readonly string[]).includes(a.output))
    throw new UsageError(`--output must be ${FORMATS.join(", ")}, not ${JSON.stringify(a.output)}`);
  const stuckAfterMs = parseDurationFlag(a.stuckAfter, "--stuck-after");
  const intervalMs = parseDurationFlag(a.interval ?? "5s", "--interval");
  const api = new KubeApi(loadKubeconfig(kubeconfigPath(a.kubeconfig), a.context));
  let last = "";
  for (;;) {
    const fleet = await readFleet(api, a.clusterSelector);
    const clusters = [...fleet.summaries(Date.now(), stuckAfterMs)];
    const summary = fleetSummary(clusters);
    const text = formatted(a.output, { summary, clusters }, () =>
      renderStatus(summary, clusters, tty),
    );
    if (!a.watch) {
      write(text);
      return 0;
    }
    // kubectl get -w habits: a terminal is redrawn in place, a pipe gets each new state once.
    if (text !== last) write(tty && a.output === "table" ? `\u001b[H\u001b[2J${text}` : text);
    last = text;
    if (await stopped(a.signal, intervalMs)) return 0;
  }
}

/** Waits `ms`; true when the signal ended the wait (or had already). */
function stopped(signal: AbortSignal | undefined, ms: number): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  return new Promise(resolve => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(false);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** `4.17.0 ×2, 4.18.1`: the versions of a set of clusters, most common first. */
export function versionsText(versions: Record<string, number>): string {
  return Object.entries(versions)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([v, n]) => (n > 1 ? `${v} ×${n}` : v))
    .join(", ");
}

function progressCell(c: ProgressCounts, bars: boolean): string {
  const words = `${c.done}/${c.total} done, ${c.failed} failed`;
  return bars ? progressLine(c.done, c.failed, c.total, words) : words;
}

/**
 * The table: totals, stage × state, per group and batch the progress (done: on the target
 * version and finalized, the rule the dashboard and the API count with) and the versions, then
 * the clusters that need attention, by name.
 */
export function renderStatus(
  s: FleetSummary,
  clusters: readonly ClusterSummary[],
  bars: boolean,
): string {
  const out: string[] = [];
  out.push(
    `${s.total} clusters, ${s.reported} reporting, ${s.done} done (on the target version, finalized), ${s.autoImportDisabled} with auto-import disabled`,
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
  if (groups.length || s.ungrouped) {
    const groupRows: string[][] = [];
    for (const g of groups) {
      const c = s.byGroup[g]!;
      const stages = STAGES.filter(st => c.byStage[st])
        .map(st => `${st} ${c.byStage[st]}`)
        .join(", ");
      const versions = `${versionsText(c.currentVersions)} → ${versionsText(c.targetVersions)}`;
      groupRows.push([
        clean(g),
        "",
        String(c.total),
        stages,
        clean(versions),
        progressCell(c, bars),
      ]);
      for (const b of Object.keys(c.batches).sort((x, y) => Number(x) - Number(y))) {
        const bc = c.batches[b]!;
        const current = c.currentBatch === Number(b) ? " (current)" : "";
        groupRows.push(["", `${b}${current}`, String(bc.total), "", "", progressCell(bc, bars)]);
      }
    }
    if (s.ungrouped) groupRows.push(["(no group)", "", String(s.ungrouped), "", "", ""]);
    out.push(
      ...table(
        ["GROUP", "BATCH", "CLUSTERS", "STAGES", "VERSIONS (NOW → TARGET)", "PROGRESS"],
        groupRows,
      ),
      "",
    );
  }
  const byName = new Map(clusters.map(c => [c.name, c]));
  if (s.attention.count) {
    out.push(`Needs attention (${s.attention.count}):`);
    const rows = s.attention.clusters.slice(0, 50).map(n => {
      const c = byName.get(n);
      const why = c ? attentionWhy(c) : "";
      return [n, c ? `${c.stage} ${c.state}` : "", why, c?.message ?? ""].map(clean);
    });
    out.push(
      ...table(
        ["  CLUSTER", "STAGE", "WHY", "MESSAGE"],
        rows.map(r => [`  ${r[0]}`, ...r.slice(1)]),
      ),
    );
    if (s.attention.count > 50)
      out.push(`  … and ${s.attention.count - 50} more (-o json lists all)`);
    out.push("");
  }
  return `${out.join("\n").trimEnd()}\n`;
}

/** Why a cluster needs attention, in words. */
function attentionWhy(c: ClusterSummary): string {
  const why: string[] = [];
  if (c.state === "Failed") why.push("failed");
  if (c.state === "Blocked") why.push("move refused");
  if (c.stuck) why.push("stuck");
  if (c.autoRolledBack) why.push("rolled back automatically");
  return why.join(", ");
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
