// The lca.openshift.io/v1 ImageBasedUpgrade object as the agent reads and writes it.
export const IBU_NAME = "upgrade";
export const IBU_GROUP = "lca.openshift.io";
export const IBU_VERSION = "v1";
export const IBU_PLURAL = "imagebasedupgrades";

export type Stage = "Idle" | "Prep" | "Upgrade" | "Rollback";
export const STAGES: readonly Stage[] = ["Idle", "Prep", "Upgrade", "Rollback"];

export type ConditionType =
  | "Idle"
  | "PrepInProgress"
  | "PrepCompleted"
  | "UpgradeInProgress"
  | "UpgradeCompleted"
  | "RollbackInProgress"
  | "RollbackCompleted";

export type Reason =
  | "Idle"
  | "InProgress"
  | "Completed"
  | "Failed"
  | "TimedOut"
  | "Aborting"
  | "AbortCompleted"
  | "AbortFailed"
  | "Finalizing"
  | "FinalizeCompleted"
  | "FinalizeFailed"
  | "InvalidTransition"
  | "Blocked";

export interface Condition {
  readonly type: ConditionType;
  readonly status: "True" | "False" | "Unknown";
  readonly reason: Reason;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

export interface Phase {
  readonly phase: string;
  readonly startTime?: string;
  readonly completionTime?: string;
}

export interface StageHistory {
  readonly stage: Stage;
  readonly startTime?: string;
  readonly completionTime?: string;
  readonly phases: readonly Phase[];
}

export interface IbuSpec {
  readonly stage?: Stage;
  readonly seedImageRef?: {
    readonly image?: string;
    readonly version?: string;
    readonly pullSecretRef?: { readonly name: string };
  };
  readonly oadpContent?: ReadonlyArray<{ readonly name: string; readonly namespace: string }>;
  readonly extraManifests?: ReadonlyArray<{ readonly name: string; readonly namespace: string }>;
  readonly autoRollbackOnFailure?: { readonly initMonitorTimeoutSeconds?: number };
}

export interface IbuStatus {
  readonly observedGeneration?: number;
  readonly conditions?: readonly Condition[];
  readonly validNextStages?: readonly Stage[];
  readonly history?: readonly StageHistory[];
  readonly rollbackAvailabilityExpiration?: string;
}

export interface Ibu {
  readonly apiVersion: "lca.openshift.io/v1";
  readonly kind: "ImageBasedUpgrade";
  readonly metadata: {
    readonly name: string;
    readonly resourceVersion?: string;
    readonly generation?: number;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec: IbuSpec;
  readonly status?: IbuStatus;
}

/** Condition messages LCA writes verbatim (its conditions.go). */
export const Msg = {
  idle: "Idle",
  inProgress: "In progress",
  finalizing: "Finalizing",
  aborting: "Aborting",
  prepCompleted: "Prep completed",
  prepFailed: "Prep failed",
  prepStageCompleted: "Prep stage completed successfully",
  prepStageCompletedWithWarning:
    "Prep stage completed with extramanifests validation warning. Please check the annotation 'extra-manifest.lca.openshift.io/validation-warning' for details.",
  upgradeCompleted: "Upgrade completed",
  upgradeFailed: "Upgrade failed",
  rollbackCompleted: "Rollback completed",
  rollbackFailed: "Rollback failed",
  rollbackRequested: "Rollback requested",
} as const;

/** LCA's annotations on the IBU. */
export const Annotation = {
  manualCleanupDone: "lca.openshift.io/manual-cleanup-done",
  triggerReconcile: "lca.openshift.io/trigger-reconcile",
  imageCleanupOnPrep: "image-cleanup.lca.openshift.io/on-prep",
  imageCleanupThreshold: "image-cleanup.lca.openshift.io/disk-usage-threshold-percent",
  autoRollbackPostRebootConfig: "auto-rollback-on-failure.lca.openshift.io/post-reboot-config",
  autoRollbackUpgradeCompletion: "auto-rollback-on-failure.lca.openshift.io/upgrade-completion",
  autoRollbackInitMonitor: "auto-rollback-on-failure.lca.openshift.io/init-monitor",
  extraManifestWarning: "extra-manifest.lca.openshift.io/validation-warning",
} as const;
