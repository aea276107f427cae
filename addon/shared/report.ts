// The hub report (ibu-gitops.dev/v1alpha1 ClusterUpgrade, addon/crds/) and the rules both the
// agent and the hub controller apply to an ImageBasedUpgrade: which state a stage is in, and
// what the disable-auto-import annotation should be. Pure functions, no I/O.
import type { Condition, Ibu, Stage } from "../agent/ibu-types.js";

export const REPORT_GROUP = "ibu-gitops.dev";
export const REPORT_VERSION = "v1alpha1";
export const REPORT_PLURAL = "clusterupgrades";
export const REPORT_NAME = "upgrade";
export const ADDON_NAME = "ibu-gitops";
/** Our ManagedClusterAddOn condition type (the ACM console shows it). */
export const ADDON_CONDITION = "ibu-gitops.dev/ImageBasedUpgrade";
export const DISABLE_AUTO_IMPORT = "import.open-cluster-management.io/disable-auto-import";

export const reportPath = (cluster: string, name = REPORT_NAME): string =>
  `/apis/${REPORT_GROUP}/${REPORT_VERSION}/namespaces/${encodeURIComponent(cluster)}/${REPORT_PLURAL}${name ? `/${name}` : ""}`;

export type StageState = "Idle" | "Pending" | "InProgress" | "Completed" | "Failed" | "Blocked";
export type AutoImportIntent = "Disable" | "Enable" | "Keep";

export interface Report {
  clusterName: string;
  agentVersion?: string;
  reportTime: string;
  sequence?: number;
  stage: Stage;
  state: StageState;
  message?: string;
  autoRolledBack?: boolean;
  autoImport?: { intent: AutoImportIntent; reason: string };
  ibu?: { generation?: number; spec?: Ibu["spec"]; status?: Ibu["status"] };
  node?: {
    bootedStateroot?: string;
    stateroots?: string[];
    containerStorageUsedPercent?: number;
    precache?: { total: number; pulled: number; failed: number };
  };
}

export interface ClusterUpgrade {
  apiVersion: `${typeof REPORT_GROUP}/${typeof REPORT_VERSION}`;
  kind: "ClusterUpgrade";
  metadata: {
    name: string;
    namespace: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  report?: Report;
}

const cond = (ibu: Pick<Ibu, "status">, type: Condition["type"]): Condition | undefined =>
  ibu.status?.conditions?.find(c => c.type === type);

/** Refusals of a stage move: the move was not made, the old stage stands. */
const REFUSALS = new Set(["InvalidTransition", "Blocked"]);

/**
 * The state of the IBU's desired stage, from its conditions, the way an operator reads LCA's
 * "State" column: Idle, InProgress, Completed, Failed, Blocked (the move was refused), or
 * Pending (asked for, not picked up yet).
 */
export function stageState(ibu: Pick<Ibu, "spec" | "status">): StageState {
  const stage = ibu.spec.stage ?? "Idle";
  if (stage === "Idle") {
    const idle = cond(ibu, "Idle");
    if (!idle) return "Pending";
    if (REFUSALS.has(idle.reason)) return "Blocked";
    if (idle.status === "True") return "Idle";
    if (idle.reason === "AbortFailed" || idle.reason === "FinalizeFailed") return "Failed";
    return "InProgress";
  }
  const inProgress = cond(ibu, `${stage}InProgress` as Condition["type"]);
  const completed = cond(ibu, `${stage}Completed` as Condition["type"]);
  if (inProgress && REFUSALS.has(inProgress.reason)) return "Blocked";
  if (inProgress?.status === "True") return "InProgress";
  if (completed?.status === "True") return "Completed";
  if (completed?.reason === "Failed" || inProgress?.reason === "Failed") return "Failed";
  if (completed?.reason === "TimedOut") return "Failed";
  return "Pending";
}

/** The message an operator wants for the desired stage: its latest condition's. */
export function stageMessage(ibu: Pick<Ibu, "spec" | "status">): string {
  const conditions = ibu.status?.conditions ?? [];
  const stage = ibu.spec.stage ?? "Idle";
  const idle = conditions.find(c => c.type === "Idle");
  if (stage === "Idle" && idle) return idle.message;
  const own = conditions.filter(c => c.type === stage || c.type.startsWith(stage));
  // What is under way, else why it failed (the in-progress condition carries the detail,
  // the completed one only "<Stage> failed"), else the latest word.
  const failed = own.filter(c => c.status === "False" && c.reason === "Failed");
  const pick =
    own.find(c => c.status === "True" && c.type.endsWith("InProgress")) ??
    failed.find(c => c.type.endsWith("InProgress")) ??
    failed[0] ??
    conditions.at(-1);
  return pick?.message ?? "";
}

/** True when the node rolled back on its own: LCA's rollback messages start so. */
export function autoRolledBack(ibu: Pick<Ibu, "status">): boolean {
  return (ibu.status?.conditions ?? []).some(c => c.message.startsWith("Rollback due to "));
}

/**
 * The auto-import rule (docs/design.md §4): disable auto-import while the Upgrade stage is
 * under way; enable it again once the IBU is back to Idle=True or Upgrade or Rollback has
 * completed; never enable it while Prep is completed and Upgrade has not started (TALM adds
 * the annotation then); otherwise leave it as it is.
 */
export function autoImportIntent(ibu: Pick<Ibu, "spec" | "status">): {
  intent: AutoImportIntent;
  reason: string;
} {
  const stage = ibu.spec.stage ?? "Idle";
  const is = (type: Condition["type"]): boolean => cond(ibu, type)?.status === "True";
  if (is("UpgradeInProgress")) return { intent: "Disable", reason: "Upgrade in progress" };
  if (stage === "Upgrade" && !is("UpgradeCompleted") && stageState(ibu) === "Pending")
    return { intent: "Disable", reason: "Upgrade requested" };
  if (is("Idle")) return { intent: "Enable", reason: "Idle" };
  if (is("RollbackCompleted")) return { intent: "Enable", reason: "Rollback completed" };
  if (is("UpgradeCompleted")) return { intent: "Enable", reason: "Upgrade completed" };
  if (is("PrepCompleted") && stage === "Prep")
    return { intent: "Keep", reason: "Prep completed, Upgrade not started" };
  return { intent: "Keep", reason: `${stage} ${stageState(ibu)}` };
}
