// The hub's in-memory fleet model, keyed by cluster name: each cluster's latest report
// (ClusterUpgrade), its ManagedCluster (labels and the disable-auto-import annotation) and the
// TALM objects that tell its group and batch. Also the pure views the API serves: one
// cluster's summary and detail, the fleet summary, filters and pages, and the one rule of
// progress that `ibu-gitops status`, the API and the dashboard count with (isDone).
import type { Condition, Stage, StageHistory } from "../agent/ibu-types.js";
import {
  DISABLE_AUTO_IMPORT,
  autoImportIntent,
  type AutoImportIntent,
  type Report,
  type StageState,
} from "../shared/report.js";
import { assignGroup, type GroupAssignment, type UpgradeObject } from "./groups.js";

export interface ManagedClusterInfo {
  readonly name: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface ManagedClusterObject {
  metadata?: {
    name?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
}

export function toManagedCluster(o: ManagedClusterObject): ManagedClusterInfo {
  return {
    name: o.metadata?.name ?? "",
    ...(o.metadata?.uid ? { uid: o.metadata.uid } : {}),
    ...(o.metadata?.resourceVersion ? { resourceVersion: o.metadata.resourceVersion } : {}),
    labels: o.metadata?.labels ?? {},
    annotations: o.metadata?.annotations ?? {},
  };
}

/** A cluster's stage and state; clusters without a report are `Unknown`/`NoReport`. */
export type ClusterStage = Stage | "Unknown";
export type ClusterState = StageState | "NoReport";

export interface ClusterSummary {
  readonly name: string;
  readonly stage: ClusterStage;
  readonly state: ClusterState;
  readonly message: string;
  readonly group?: string;
  readonly batch?: number;
  readonly currentBatch?: number;
  /** `<namespace>/<name>` of the CGU or IBGU the group comes from. */
  readonly upgrade?: string;
  readonly managed: boolean;
  /** The ManagedCluster carries the disable-auto-import annotation. */
  readonly autoImportDisabled: boolean;
  readonly autoImportIntent?: AutoImportIntent;
  readonly autoRolledBack: boolean;
  /** The OpenShift version the cluster runs: its booted stateroot's (LCA's `rhcos_<version>`). */
  readonly currentVersion?: string;
  /** The seed's version: the IBU's `seedImageRef`, else the group's IBGU's. */
  readonly targetVersion?: string;
  /** Progress's one rule (isDone): runs the target version and its upgrade is finalized. */
  readonly done: boolean;
  /**
   * Going back to Idle: `finalize` (after a completed Upgrade or Rollback) or `cancel` (LCA's
   * abort, before the pivot), from the Idle condition's reason; absent otherwise.
   */
  readonly operation?: "finalize" | "cancel";
  readonly bootedStateroot?: string;
  readonly reportTime?: string;
  readonly reportAgeSeconds?: number;
  /** The latest sign of progress: a condition transition, a stage or phase start or end. */
  readonly progressTime?: string;
  /** In progress or pending with no progress for longer than the stuck threshold. */
  readonly stuck: boolean;
}

export interface ClusterDetail extends ClusterSummary {
  readonly agentVersion?: string;
  readonly sequence?: number;
  readonly autoImport: {
    readonly annotation: string | null;
    readonly intent?: AutoImportIntent;
    readonly reason?: string;
    readonly agentIntent?: Report["autoImport"];
  };
  readonly ibu?: Report["ibu"];
  readonly conditions: readonly Condition[];
  readonly validNextStages: readonly Stage[];
  readonly history: readonly StageHistory[];
  /**
   * The stage history the hub last saw before the IBU went back to Idle (LCA clears
   * `status.history` on finalize and cancel), so a finished upgrade or rollback keeps its record.
   */
  readonly lastHistory?: readonly StageHistory[];
  readonly node?: Report["node"];
  readonly labels: Readonly<Record<string, string>>;
}

export interface ClusterRecord {
  readonly name: string;
  readonly report?: Report;
  readonly managed?: ManagedClusterInfo;
  /** When the hub saw the current stage and state begin (only for changes it observed). */
  readonly stateSince?: number;
  /** The last non-empty stage history the hub saw for this cluster. */
  readonly lastHistory?: readonly StageHistory[];
}

const toMs = (t: string | undefined): number => (t ? Date.parse(t) || 0 : 0);

/**
 * The version a stateroot holds, from LCA's naming of the stateroot it makes for a seed,
 * `rhcos_<version>` (`_` for characters a stateroot name cannot hold); a stateroot LCA did not
 * make (an installed cluster's `rhcos`) names none.
 */
export function staterootVersion(stateroot: string | undefined): string | undefined {
  return stateroot ? /^rhcos_(.+)$/.exec(stateroot)?.[1]?.replace(/_/g, "-") : undefined;
}

/**
 * The one rule of progress: a cluster is done when it runs the target version and its
 * upgrade is finalized (the IBU is back to Idle, Idle=True). An untouched Idle cluster, one
 * that completed Upgrade but is not finalized, and one that rolled back are not done.
 */
export function isDone(
  c: Pick<ClusterSummary, "stage" | "state" | "currentVersion" | "targetVersion">,
): boolean {
  return (
    c.stage === "Idle" &&
    c.state === "Idle" &&
    c.currentVersion !== undefined &&
    c.currentVersion === c.targetVersion
  );
}

/**
 * Which way a cluster is going back to Idle, from LCA's Idle condition reasons (Finalizing,
 * FinalizeFailed: finalize; Aborting, AbortFailed: cancel); undefined once it is Idle.
 */
export function idleOperation(report: Report | undefined): "finalize" | "cancel" | undefined {
  if (report?.stage !== "Idle") return undefined;
  const idle = report.ibu?.status?.conditions?.find(c => c.type === "Idle");
  if (!idle || idle.status === "True") return undefined;
  if (idle.reason === "Finalizing" || idle.reason === "FinalizeFailed") return "finalize";
  if (idle.reason === "Aborting" || idle.reason === "AbortFailed") return "cancel";
  return undefined;
}

/** Failed or refused (Blocked) in its stage. */
export const isFailed = (c: Pick<ClusterSummary, "state">): boolean =>
  c.state === "Failed" || c.state === "Blocked";

/** What an operator must look at: failed, blocked, stuck, or rolled back on its own. */
export const needsAttention = (
  c: Pick<ClusterSummary, "state" | "stuck" | "autoRolledBack">,
): boolean => isFailed(c) || c.stuck || c.autoRolledBack;

/** The latest time the report shows progress at, in ms (0 when it shows none). */
export function progressMs(report: Report | undefined): number {
  const status = report?.ibu?.status;
  let latest = 0;
  for (const c of status?.conditions ?? []) latest = Math.max(latest, toMs(c.lastTransitionTime));
  for (const h of status?.history ?? []) {
    latest = Math.max(latest, toMs(h.startTime), toMs(h.completionTime));
    for (const p of h.phases ?? [])
      latest = Math.max(latest, toMs(p.startTime), toMs(p.completionTime));
  }
  return latest;
}

/** The rule's verdict for a report, or undefined when the report carries no IBU. */
export function intentOf(
  report: Report | undefined,
): ReturnType<typeof autoImportIntent> | undefined {
  const ibu = report?.ibu;
  if (!ibu) return undefined;
  return autoImportIntent({ spec: ibu.spec ?? { stage: report.stage }, status: ibu.status });
}

export function summarize(
  r: ClusterRecord,
  assignment: GroupAssignment | undefined,
  now: number,
  stuckAfterMs: number,
): ClusterSummary {
  const rep = r.report;
  const intent = intentOf(rep);
  const progress = Math.max(progressMs(rep), r.stateSince ?? 0);
  const state: ClusterState = rep?.state ?? "NoReport";
  const waiting = state === "InProgress" || state === "Pending";
  const reportMs = toMs(rep?.reportTime);
  const stage = rep?.stage ?? "Unknown";
  const currentVersion = staterootVersion(rep?.node?.bootedStateroot);
  const targetVersion = rep?.ibu?.spec?.seedImageRef?.version ?? assignment?.targetVersion;
  const operation = idleOperation(rep);
  return {
    name: r.name,
    stage,
    state,
    message: rep?.message ?? "",
    ...(assignment
      ? {
          group: assignment.group,
          upgrade: assignment.upgrade,
          ...(assignment.batch !== undefined ? { batch: assignment.batch } : {}),
          ...(assignment.currentBatch !== undefined
            ? { currentBatch: assignment.currentBatch }
            : {}),
        }
      : {}),
    managed: r.managed !== undefined,
    autoImportDisabled: r.managed?.annotations[DISABLE_AUTO_IMPORT] !== undefined,
    ...(intent ? { autoImportIntent: intent.intent } : {}),
    autoRolledBack: rep?.autoRolledBack ?? false,
    ...(currentVersion ? { currentVersion } : {}),
    ...(targetVersion ? { targetVersion } : {}),
    done: isDone({ stage, state, currentVersion, targetVersion }),
    ...(operation ? { operation } : {}),
    ...(rep?.node?.bootedStateroot ? { bootedStateroot: rep.node.bootedStateroot } : {}),
    ...(rep?.reportTime
      ? {
          reportTime: rep.reportTime,
          reportAgeSeconds: reportMs ? Math.max(0, Math.round((now - reportMs) / 1000)) : 0,
        }
      : {}),
    ...(progress ? { progressTime: new Date(progress).toISOString() } : {}),
    stuck: waiting && progress > 0 && now - progress > stuckAfterMs,
  };
}

export function detail(
  r: ClusterRecord,
  assignment: GroupAssignment | undefined,
  now: number,
  stuckAfterMs: number,
): ClusterDetail {
  const s = summarize(r, assignment, now, stuckAfterMs);
  const intent = intentOf(r.report);
  const status = r.report?.ibu?.status;
  return {
    ...s,
    ...(r.report?.agentVersion ? { agentVersion: r.report.agentVersion } : {}),
    ...(r.report?.sequence !== undefined ? { sequence: r.report.sequence } : {}),
    autoImport: {
      annotation: r.managed?.annotations[DISABLE_AUTO_IMPORT] ?? null,
      ...(intent ? { intent: intent.intent, reason: intent.reason } : {}),
      ...(r.report?.autoImport ? { agentIntent: r.report.autoImport } : {}),
    },
    ...(r.report?.ibu ? { ibu: r.report.ibu } : {}),
    conditions: status?.conditions ?? [],
    validNextStages: status?.validNextStages ?? [],
    history: status?.history ?? [],
    ...(r.lastHistory?.length ? { lastHistory: r.lastHistory } : {}),
    ...(r.report?.node ? { node: r.report.node } : {}),
    labels: r.managed?.labels ?? {},
  };
}

export interface NamedList {
  readonly count: number;
  /** Sorted by name; at most LIST_CAP names. */
  readonly clusters: readonly string[];
}

/** Counts of a set of clusters (a group, or one of its batches) by the rule of progress. */
export interface ProgressCounts {
  total: number;
  /** isDone: on the target version and finalized. */
  done: number;
  /** Failed or Blocked. */
  failed: number;
  /** InProgress or Pending. */
  inProgress: number;
  byStage: Record<string, number>;
  byState: Record<string, number>;
  /** current version → clusters; `unknown` when the booted stateroot names none */
  currentVersions: Record<string, number>;
  /** target version → clusters; `unknown` when neither the IBU nor the group names one */
  targetVersions: Record<string, number>;
}

export interface GroupCounts extends ProgressCounts {
  /** batch (1-based, from the CGU's status.remediationPlan) → its counts */
  batches: Record<string, ProgressCounts>;
  /** The group's CGU's current batch (status.status.currentBatch), when one runs. */
  currentBatch?: number;
}

export interface FleetSummary {
  readonly total: number;
  readonly reported: number;
  readonly byStage: Record<string, number>;
  readonly byState: Record<string, number>;
  /** stage → state → count */
  readonly byStageState: Record<string, Record<string, number>>;
  /** group → counts; clusters in no group are under `ungrouped`. */
  readonly byGroup: Record<string, GroupCounts>;
  readonly ungrouped: number;
  readonly autoImportDisabled: number;
  /** isDone: on the target version and finalized. */
  readonly done: number;
  /** Failed, blocked, stuck or automatically rolled back (needsAttention). */
  readonly attention: NamedList;
  readonly failed: NamedList;
  readonly stuck: NamedList;
  readonly autoRolledBack: NamedList;
}

export const LIST_CAP = 1000;

const bump = (m: Record<string, number>, k: string): void => void (m[k] = (m[k] ?? 0) + 1);

const emptyCounts = (): ProgressCounts => ({
  total: 0,
  done: 0,
  failed: 0,
  inProgress: 0,
  byStage: {},
  byState: {},
  currentVersions: {},
  targetVersions: {},
});

/** Adds one cluster to a set's counts. */
export function count(into: ProgressCounts, c: ClusterSummary): void {
  into.total++;
  if (c.done) into.done++;
  if (isFailed(c)) into.failed++;
  if (c.state === "InProgress" || c.state === "Pending") into.inProgress++;
  bump(into.byStage, c.stage);
  bump(into.byState, c.state);
  bump(into.currentVersions, c.currentVersion ?? "unknown");
  bump(into.targetVersions, c.targetVersion ?? "unknown");
}

/** Counts per stage and state, per group, and the failed / stuck / auto-rolled-back lists. */
export function fleetSummary(summaries: Iterable<ClusterSummary>): FleetSummary {
  const s = {
    total: 0,
    reported: 0,
    byStage: {} as Record<string, number>,
    byState: {} as Record<string, number>,
    byStageState: {} as Record<string, Record<string, number>>,
    byGroup: {} as Record<string, GroupCounts>,
    ungrouped: 0,
    autoImportDisabled: 0,
    done: 0,
  };
  const attention: string[] = [];
  const failed: string[] = [];
  const stuck: string[] = [];
  const rolledBack: string[] = [];
  for (const c of summaries) {
    s.total++;
    if (c.state !== "NoReport") s.reported++;
    bump(s.byStage, c.stage);
    bump(s.byState, c.state);
    bump((s.byStageState[c.stage] ??= {}), c.state);
    if (c.group !== undefined) {
      const g = (s.byGroup[c.group] ??= { ...emptyCounts(), batches: {} });
      count(g, c);
      if (c.batch !== undefined) count((g.batches[c.batch] ??= emptyCounts()), c);
      if (c.currentBatch !== undefined) g.currentBatch = c.currentBatch;
    } else s.ungrouped++;
    if (c.autoImportDisabled) s.autoImportDisabled++;
    if (c.done) s.done++;
    if (needsAttention(c)) attention.push(c.name);
    if (c.state === "Failed") failed.push(c.name);
    if (c.stuck) stuck.push(c.name);
    if (c.autoRolledBack) rolledBack.push(c.name);
  }
  const list = (names: string[]): NamedList => ({
    count: names.length,
    clusters: names.sort().slice(0, LIST_CAP),
  });
  return {
    ...s,
    attention: list(attention),
    failed: list(failed),
    stuck: list(stuck),
    autoRolledBack: list(rolledBack),
  };
}

export interface ClusterFilter {
  readonly stage?: readonly string[];
  readonly state?: readonly string[];
  readonly group?: readonly string[];
  /** Substring of the name. */
  readonly name?: string;
}

export function matchesFilter(c: ClusterSummary, f: ClusterFilter): boolean {
  if (f.stage?.length && !f.stage.includes(c.stage)) return false;
  if (f.state?.length && !f.state.includes(c.state)) return false;
  if (f.group?.length && !f.group.includes(c.group ?? "")) return false;
  if (f.name && !c.name.includes(f.name)) return false;
  return true;
}

export interface Page<T> {
  readonly items: T[];
  /** Pass as `continue` for the next page; absent on the last page. */
  readonly continue?: string;
  /** Matching items after this page. */
  readonly remaining: number;
}

export const encodeContinue = (name: string): string => Buffer.from(name).toString("base64url");

export function decodeContinue(token: string): string {
  const name = Buffer.from(token, "base64url").toString("utf8");
  if (!name || encodeContinue(name) !== token) throw new Error("invalid continue token");
  return name;
}

/**
 * One page of clusters whose names (sorted) come after the continue token's name and match the
 * filter. Names are stable keys, so a page boundary holds while clusters come and go.
 */
export function page<T>(
  sortedNames: readonly string[],
  view: (name: string) => T | undefined,
  keep: (item: T) => boolean,
  limit: number,
  after?: string,
): Page<T> {
  const items: T[] = [];
  let remaining = 0;
  let start = 0;
  if (after !== undefined) {
    // binary search: first name > after
    let lo = 0;
    let hi = sortedNames.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sortedNames[mid]! <= after) lo = mid + 1;
      else hi = mid;
    }
    start = lo;
  }
  let last: string | undefined;
  for (let i = start; i < sortedNames.length; i++) {
    const item = view(sortedNames[i]!);
    if (item === undefined || !keep(item)) continue;
    if (items.length < limit) {
      items.push(item);
      last = sortedNames[i];
    } else remaining++;
  }
  return {
    items,
    ...(remaining > 0 && last !== undefined ? { continue: encodeContinue(last) } : {}),
    remaining,
  };
}

/** The fleet: raw state plus cached group assignments and sorted names. */
export class Fleet {
  readonly reports = new Map<string, { report: Report; rv?: string }>();
  readonly managed = new Map<string, ManagedClusterInfo>();
  readonly upgrades = new Map<string, UpgradeObject>();
  readonly stateSince = new Map<string, number>();
  /** cluster → the last non-empty IBU history seen (kept after finalize clears it); setReport */
  readonly lastHistory = new Map<string, readonly StageHistory[]>();
  private readonly assignments = new Map<string, GroupAssignment | null>();
  private sorted: string[] | undefined;

  /**
   * @param scoped only clusters with a ManagedCluster (as watched, e.g. through a label
   *   selector) are in the fleet; otherwise any cluster with a report or a ManagedCluster.
   */
  constructor(readonly scoped: boolean) {}

  has(name: string): boolean {
    return this.managed.has(name) || (!this.scoped && this.reports.has(name));
  }

  names(): readonly string[] {
    if (!this.sorted) {
      const set = new Set(this.managed.keys());
      if (!this.scoped) for (const k of this.reports.keys()) set.add(k);
      this.sorted = [...set].sort();
    }
    return this.sorted;
  }

  /** Call when the set of names may have changed. */
  namesChanged(): void {
    this.sorted = undefined;
  }

  /** Call when a cluster's labels changed, or with no name when upgrade objects changed. */
  groupsChanged(name?: string): void {
    if (name === undefined) this.assignments.clear();
    else this.assignments.delete(name);
  }

  /**
   * Stores a cluster's report, and its stage history when it has one, so the record of an
   * upgrade or a rollback outlives the finalize that clears the IBU's history.
   */
  setReport(name: string, report: Report, rv?: string): void {
    this.reports.set(name, rv === undefined ? { report } : { report, rv });
    const history = report.ibu?.status?.history;
    if (history?.length) this.lastHistory.set(name, history);
  }

  record(name: string): ClusterRecord | undefined {
    if (!this.has(name)) return undefined;
    const report = this.reports.get(name)?.report;
    const managed = this.managed.get(name);
    const since = this.stateSince.get(name);
    const lastHistory = this.lastHistory.get(name);
    return {
      name,
      ...(report ? { report } : {}),
      ...(managed ? { managed } : {}),
      ...(since !== undefined ? { stateSince: since } : {}),
      ...(lastHistory ? { lastHistory } : {}),
    };
  }

  assignment(name: string): GroupAssignment | undefined {
    let a = this.assignments.get(name);
    if (a === undefined) {
      a =
        assignGroup(name, this.managed.get(name)?.labels, this.upgrades.values(), (ns, ibgu) =>
          this.upgrades.get(`ImageBasedGroupUpgrade/${ns}/${ibgu}`),
        ) ?? null;
      this.assignments.set(name, a);
    }
    return a ?? undefined;
  }

  summary(name: string, now: number, stuckAfterMs: number): ClusterSummary | undefined {
    const r = this.record(name);
    return r && summarize(r, this.assignment(name), now, stuckAfterMs);
  }

  detail(name: string, now: number, stuckAfterMs: number): ClusterDetail | undefined {
    const r = this.record(name);
    return r && detail(r, this.assignment(name), now, stuckAfterMs);
  }

  *summaries(now: number, stuckAfterMs: number): Iterable<ClusterSummary> {
    for (const n of this.names()) {
      const s = this.summary(n, now, stuckAfterMs);
      if (s) yield s;
    }
  }
}
