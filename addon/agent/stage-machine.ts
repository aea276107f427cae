// LCA's IBU stage machine as pure functions over status: condition bookkeeping with LCA's
// ordering rule, the validNextStages table, transition acceptance with LCA's conditions and
// messages, and stage/phase history. The controller calls these; node work lives in drivers.
import {
  Msg,
  type Condition,
  type ConditionType,
  type IbuStatus,
  type Reason,
  type Stage,
  type StageHistory,
} from "./ibu-types.js";

const IN_PROGRESS: Record<Stage, ConditionType> = {
  Idle: "Idle",
  Prep: "PrepInProgress",
  Upgrade: "UpgradeInProgress",
  Rollback: "RollbackInProgress",
};
const COMPLETED: Record<Stage, ConditionType> = {
  Idle: "Idle",
  Prep: "PrepCompleted",
  Upgrade: "UpgradeCompleted",
  Rollback: "RollbackCompleted",
};

export function inProgressType(stage: Stage): ConditionType {
  return IN_PROGRESS[stage];
}
export function completedType(stage: Stage): ConditionType {
  return COMPLETED[stage];
}

export function find(
  conditions: readonly Condition[] | undefined,
  type: ConditionType,
): Condition | undefined {
  return conditions?.find(c => c.type === type);
}

/**
 * LCA's SetStatusCondition: a condition whose status changes (or any Idle condition) moves to
 * the end of the list, so the last condition is the latest news (the printer columns show it);
 * lastTransitionTime changes only when the status does.
 */
export function setCondition(
  conditions: readonly Condition[],
  next: Omit<Condition, "lastTransitionTime">,
  now: string,
  generation?: number,
): Condition[] {
  const existing = conditions.find(c => c.type === next.type);
  let list = [...conditions];
  if (existing) {
    const isLast = list[list.length - 1]?.type === next.type;
    if ((existing.status !== next.status || next.type === "Idle") && !isLast) {
      list = list.filter(c => c.type !== next.type);
      list.push(existing);
    }
  }
  const lastTransitionTime =
    existing && existing.status === next.status ? existing.lastTransitionTime : now;
  const updated: Condition = {
    ...next,
    lastTransitionTime,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  return existing ? list.map(c => (c.type === next.type ? updated : c)) : [...list, updated];
}

export function removeCondition(
  conditions: readonly Condition[],
  type: ConditionType,
): Condition[] {
  return conditions.filter(c => c.type !== type);
}

/** After a successful abort or finalize, and on a fresh IBU: only Idle=True. */
export function idleConditions(now: string, generation?: number): Condition[] {
  return setCondition(
    [],
    { type: "Idle", status: "True", reason: "Idle", message: Msg.idle },
    now,
    generation,
  );
}

const IDLE_IN_PROGRESS_REASONS: readonly Reason[] = [
  "Aborting",
  "AbortFailed",
  "Finalizing",
  "FinalizeFailed",
];

export function isCompleted(c: readonly Condition[] | undefined, stage: Stage): boolean {
  return find(c, COMPLETED[stage])?.status === "True";
}

export function isFailed(c: readonly Condition[] | undefined, stage: Stage): boolean {
  return find(c, COMPLETED[stage])?.status === "False";
}

export function isInProgress(c: readonly Condition[] | undefined, stage: Stage): boolean {
  if (stage === "Idle") {
    const idle = find(c, "Idle");
    return idle?.status === "False" && IDLE_IN_PROGRESS_REASONS.includes(idle.reason);
  }
  return find(c, IN_PROGRESS[stage])?.status === "True";
}

/** The stage whose work is under way (Idle first, as LCA checks), or undefined. */
export function inProgressStage(c: readonly Condition[] | undefined): Stage | undefined {
  return (["Idle", "Prep", "Upgrade", "Rollback"] as const).find(s => isInProgress(c, s));
}

/** LCA's getValidNextStageList, in its order of checks. */
export function validNextStages(
  c: readonly Condition[] | undefined,
  afterPivot: boolean,
  specStage?: Stage,
): Stage[] {
  const current = inProgressStage(c);
  if (current === "Idle" || current === "Rollback" || isFailed(c, "Rollback")) return [];
  if (current === "Prep" || isFailed(c, "Prep")) return ["Idle"];
  if (current === "Upgrade" || isFailed(c, "Upgrade")) return afterPivot ? ["Rollback"] : ["Idle"];
  if (isCompleted(c, "Rollback")) return ["Idle"];
  if (isCompleted(c, "Upgrade")) return ["Idle", "Rollback"];
  if (isCompleted(c, "Prep")) return ["Idle", "Upgrade"];
  const idle = find(c, "Idle");
  if (idle?.status === "True") return ["Prep"];
  if (!idle) return ["Idle"];
  if (idle.reason === "Blocked" && specStage) return [specStage];
  return [];
}

/** LCA's isTransitionRequested: a stage not yet done, failed, or under way. */
export function isTransitionRequested(c: readonly Condition[] | undefined, stage: Stage): boolean {
  if (stage === "Idle") return !isCompleted(c, "Idle") && !isInProgress(c, "Idle");
  return !find(c, COMPLETED[stage]) && !isInProgress(c, stage);
}

export type IdleKind = "finalize" | "abort" | "reset";

/** LCA's isFinalizeOrAbort: what moving to Idle means in the current state. */
export function idleKind(c: readonly Condition[] | undefined, afterPivot: boolean): IdleKind {
  if (isCompleted(c, "Upgrade") || isCompleted(c, "Rollback")) return "finalize";
  const idle = find(c, "Idle");
  const rollback = find(c, "RollbackInProgress");
  if (
    idle?.status === "False" &&
    !afterPivot &&
    (!rollback || rollback.reason === "InvalidTransition")
  )
    return "abort";
  return "reset";
}

export interface TransitionResult {
  readonly accepted: boolean;
  readonly conditions: Condition[];
  /** For a move to Idle: a finalize, an abort (cancel), or a fresh IBU reset. */
  readonly idleKind?: IdleKind;
}

/**
 * Accepts a requested move to `stage` with LCA's conditions, or records LCA's
 * InvalidTransition condition on the target stage's in-progress type.
 */
export function requestTransition(
  conditions: readonly Condition[],
  stage: Stage,
  afterPivot: boolean,
  now: string,
  generation?: number,
): TransitionResult {
  const set = (
    list: Condition[],
    type: ConditionType,
    status: "True" | "False",
    reason: Reason,
    message: string,
  ): Condition[] => setCondition(list, { type, status, reason, message }, now, generation);
  const allowed = validNextStages(conditions, afterPivot);
  if (!allowed.includes(stage)) {
    const message = invalidTransitionMessage(conditions, stage, afterPivot);
    return {
      accepted: false,
      conditions: set([...conditions], IN_PROGRESS[stage], "False", "InvalidTransition", message),
    };
  }
  let c = clearInvalidTransitions(conditions, now, generation);
  switch (stage) {
    case "Prep":
      c = set(c, "Idle", "False", "InProgress", Msg.inProgress);
      c = set(c, "PrepInProgress", "True", "InProgress", Msg.inProgress);
      return { accepted: true, conditions: c };
    case "Upgrade":
      return {
        accepted: true,
        conditions: set(c, "UpgradeInProgress", "True", "InProgress", Msg.inProgress),
      };
    case "Rollback":
      c = set(c, "UpgradeCompleted", "False", "Failed", Msg.rollbackRequested);
      c = set(c, "UpgradeInProgress", "False", "Failed", Msg.rollbackRequested);
      return {
        accepted: true,
        conditions: set(c, "RollbackInProgress", "True", "InProgress", Msg.inProgress),
      };
    case "Idle": {
      const kind = idleKind(c, afterPivot);
      if (kind === "finalize")
        return {
          accepted: true,
          idleKind: kind,
          conditions: set(c, "Idle", "False", "Finalizing", Msg.finalizing),
        };
      if (kind === "abort")
        return {
          accepted: true,
          idleKind: kind,
          conditions: set(c, "Idle", "False", "Aborting", Msg.aborting),
        };
      return { accepted: true, idleKind: kind, conditions: idleConditions(now, generation) };
    }
  }
}

/** LCA's controller-side messages for a move it refuses. */
export function invalidTransitionMessage(
  c: readonly Condition[],
  stage: Stage,
  afterPivot: boolean,
): string {
  if (stage === "Prep" || stage === "Upgrade") return "Previous stage not succeeded";
  if (stage === "Rollback") return "Upgrade not started or already finalized";
  if (isFailed(c, "Rollback")) return "Transition to Idle not allowed - Rollback failed";
  if (afterPivot && isInProgress(c, "Rollback"))
    return "Transition to Idle not allowed - Rollback is in progress";
  if (afterPivot) return "Transition to Idle not allowed - Rollback first";
  return "Abort or finalize not allowed";
}

/** LCA's ClearInvalidTransitionStatusConditions. */
export function clearInvalidTransitions(
  conditions: readonly Condition[],
  now: string,
  generation?: number,
): Condition[] {
  let c = conditions.filter(x => !(x.type !== "Idle" && x.reason === "InvalidTransition"));
  const idle = find(c, "Idle");
  if (idle?.reason === "InvalidTransition") {
    c = setCondition(
      c,
      { type: "Idle", status: "False", reason: "InProgress", message: Msg.inProgress },
      now,
      generation,
    );
  }
  return c;
}

/** A Kubernetes timestamp for now (seconds precision, as metav1.Time). */
export function nowTimestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** LCA's messages when a stage ends: on the in-progress condition, the completed one, and on failure. */
const COMPLETION_MESSAGES = {
  Prep: { phase: Msg.prepCompleted, stage: Msg.prepStageCompleted, failed: Msg.prepFailed },
  Upgrade: { phase: Msg.upgradeCompleted, stage: Msg.upgradeCompleted, failed: Msg.upgradeFailed },
  Rollback: {
    phase: Msg.rollbackCompleted,
    stage: Msg.rollbackCompleted,
    failed: Msg.rollbackFailed,
  },
} as const;

type WorkStage = keyof typeof COMPLETION_MESSAGES;

/** A stage failed: `<Stage>Completed=False` with LCA's message, `<Stage>InProgress=False` with the detail. */
export function failStage(
  conditions: readonly Condition[],
  stage: WorkStage,
  detail: string,
  now: string,
  generation?: number,
): Condition[] {
  const c = setCondition(
    conditions,
    {
      type: COMPLETED[stage],
      status: "False",
      reason: "Failed",
      message: COMPLETION_MESSAGES[stage].failed,
    },
    now,
    generation,
  );
  return setCondition(
    c,
    { type: IN_PROGRESS[stage], status: "False", reason: "Failed", message: detail },
    now,
    generation,
  );
}

/** A stage completed, with LCA's messages on both conditions. */
export function completeStage(
  conditions: readonly Condition[],
  stage: WorkStage,
  now: string,
  generation?: number,
  /** The completed condition's message, when not LCA's usual one (Prep with warnings). */
  stageMessage?: string,
): Condition[] {
  const m = COMPLETION_MESSAGES[stage];
  const c = setCondition(
    conditions,
    { type: IN_PROGRESS[stage], status: "False", reason: "Completed", message: m.phase },
    now,
    generation,
  );
  return setCondition(
    c,
    {
      type: COMPLETED[stage],
      status: "True",
      reason: "Completed",
      message: stageMessage ?? m.stage,
    },
    now,
    generation,
  );
}

// ---- history ----

/** Appends the stage to history when it starts (never for Idle). */
export function startStage(
  history: readonly StageHistory[],
  stage: Stage,
  now: string,
): StageHistory[] {
  if (stage === "Idle" || history.some(h => h.stage === stage && h.startTime)) return [...history];
  return [...history, { stage, startTime: now, phases: [] }];
}

export function stopStage(
  history: readonly StageHistory[],
  stage: Stage,
  now: string,
): StageHistory[] {
  return history.map(h =>
    h.stage === stage && !h.completionTime ? { ...h, completionTime: now } : h,
  );
}

export function startPhase(
  history: readonly StageHistory[],
  stage: Stage,
  phase: string,
  now: string,
): StageHistory[] {
  return history.map(h =>
    h.stage === stage && !h.phases.some(p => p.phase === phase)
      ? { ...h, phases: [...h.phases, { phase, startTime: now }] }
      : h,
  );
}

export function stopPhase(
  history: readonly StageHistory[],
  stage: Stage,
  phase: string,
  now: string,
): StageHistory[] {
  return history.map(h =>
    h.stage === stage
      ? {
          ...h,
          phases: h.phases.map(p =>
            p.phase === phase && !p.completionTime ? { ...p, completionTime: now } : p,
          ),
        }
      : h,
  );
}

/** Phases LCA records per stage. */
export const PHASES = {
  Prep: ["Stateroot", "Precache"],
  Upgrade: ["PrePivot", "PostPivot"],
} as const;

export function emptyStatus(): IbuStatus {
  return {};
}
