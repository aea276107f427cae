// What each desired stage means for the generated objects: which ClusterGroupUpgrades exist
// (cgu flavour), which ImageBasedGroupUpgrade plans (ibgu flavour), and the rules LCA and TALM
// put on them.
import type { DesiredStage, StageStep } from "./model.js";

/**
 * The CGUs a group has in Git at each desired stage. Finalize, rollback and abort stand
 * alone: ZTP's docs say to delete in-progress CGUs before the finalize CGU, and a completed
 * CGU is never remediated again, so keeping older ones adds nothing.
 */
export const CGU_STEPS: Readonly<Record<DesiredStage, readonly StageStep[]>> = {
  Idle: [],
  Prep: ["prep"],
  Upgrade: ["prep", "upgrade"],
  Finalize: ["finalize"],
  Rollback: ["rollback"],
  FinalizeRollback: ["finalize"],
  Abort: ["abort"],
};

export const IBGU_ACTIONS = [
  "Prep",
  "Upgrade",
  "FinalizeUpgrade",
  "Rollback",
  "FinalizeRollback",
  "Abort",
  "AbortOnFailure",
] as const;
export type IbguAction = (typeof IBGU_ACTIONS)[number];
export type IbguPlan = ReadonlyArray<readonly IbguAction[]>;

/** TALM's CEL list of allowed plans (CRD rule "invalid combinations of actions in the plan"). */
export const ALLOWED_IBGU_PLANS: readonly IbguPlan[] = [
  [["Prep"]],
  [["Prep"], ["Upgrade"]],
  [["Prep", "Upgrade"]],
  [["Prep"], ["Upgrade"], ["FinalizeUpgrade"]],
  [["Prep"], ["Upgrade", "FinalizeUpgrade"]],
  [["Prep", "Upgrade"], ["FinalizeUpgrade"]],
  [["Prep", "Upgrade", "FinalizeUpgrade"]],
  [["Rollback"]],
  [["Rollback"], ["FinalizeRollback"]],
  [["Rollback", "FinalizeRollback"]],
  [["Upgrade"]],
  [["Upgrade"], ["FinalizeUpgrade"]],
  [["Upgrade", "FinalizeUpgrade"]],
  [["FinalizeUpgrade"]],
  [["FinalizeRollback"]],
  [["Abort"]],
  [["AbortOnFailure"]],
  [["Prep"], ["Abort"]],
  [["Prep"], ["AbortOnFailure"]],
  [["Prep"], ["AbortOnFailure"], ["Upgrade"]],
  [["Prep"], ["AbortOnFailure"], ["Upgrade"], ["AbortOnFailure"]],
  [["Prep"], ["Upgrade"], ["AbortOnFailure"]],
  [["Prep", "Upgrade"], ["AbortOnFailure"]],
  [["Prep"], ["AbortOnFailure"], ["Upgrade"], ["AbortOnFailure"], ["FinalizeUpgrade"]],
  [["Prep"], ["Upgrade"], ["AbortOnFailure"], ["FinalizeUpgrade"]],
  [["Prep", "Upgrade"], ["AbortOnFailure"], ["FinalizeUpgrade"]],
];

const key = (plan: IbguPlan): string => JSON.stringify(plan);
const ALLOWED = new Set(ALLOWED_IBGU_PLANS.map(key));

/**
 * Why TALM would reject `plan`, or undefined. The plan is append-only, so every prefix a
 * group passes through must be allowed too, not just the final plan.
 */
export function ibguPlanProblem(plan: IbguPlan): string | undefined {
  for (let n = 1; n <= plan.length; n++) {
    const prefix = plan.slice(0, n);
    if (!ALLOWED.has(key(prefix))) {
      const shown = prefix.map(i => `[${i.join(",")}]`).join(",");
      return n === plan.length
        ? `plan ${shown} is not among TALM's allowed sequences`
        : `plan passes through ${shown}, which is not among TALM's allowed sequences (the plan is append-only)`;
    }
  }
  return undefined;
}

export interface IbguSet {
  /** The main IBGU (Prep, Upgrade, FinalizeUpgrade), if the stage has one. */
  readonly main?: IbguPlan;
  readonly abort?: IbguPlan;
  readonly rollback?: IbguPlan;
}

/** The IBGUs and plans a group has at a desired stage; AbortOnFailure steps are optional. */
export function ibguPlans(stage: DesiredStage, abortOnFailure: boolean): IbguSet {
  const aof: IbguPlan = abortOnFailure ? [["AbortOnFailure"]] : [];
  const prep: IbguPlan = [["Prep"], ...aof];
  const upgrade: IbguPlan = [...prep, ["Upgrade"], ...aof];
  switch (stage) {
    case "Idle":
      return {};
    case "Prep":
      return { main: prep };
    case "Upgrade":
      return { main: upgrade };
    case "Finalize":
      return { main: [...upgrade, ["FinalizeUpgrade"]] };
    case "Abort":
      return { abort: [["Abort"]] };
    case "Rollback":
      return { rollback: [["Rollback"]] };
    case "FinalizeRollback":
      return { rollback: [["Rollback"], ["FinalizeRollback"]] };
  }
}

/** The rollout step whose batch size and timeout apply to an IBGU plan item. */
export function stepOfAction(action: IbguAction): StageStep {
  switch (action) {
    case "Prep":
      return "prep";
    case "Upgrade":
      return "upgrade";
    case "Rollback":
      return "rollback";
    case "Abort":
    case "AbortOnFailure":
      return "abort";
    case "FinalizeUpgrade":
    case "FinalizeRollback":
      return "finalize";
  }
}

/**
 * Moves between desired stages that LCA accepts, one commit to the next. They follow LCA's
 * validNextStages: Idle → Prep; Prep → Upgrade or cancel; Upgrade → finalize, rollback or
 * cancel (LCA refuses a cancel after the pivot: "Rollback first"); Rollback → finalize.
 * After any finalize or cancel the cluster is Idle again and may start a new Prep.
 */
export const NEXT_DESIRED_STAGES: Readonly<Record<DesiredStage, readonly DesiredStage[]>> = {
  Idle: ["Prep"],
  Prep: ["Upgrade", "Abort"],
  Upgrade: ["Finalize", "Rollback", "Abort"],
  Finalize: ["Idle", "Prep"],
  Rollback: ["FinalizeRollback"],
  FinalizeRollback: ["Idle", "Prep"],
  Abort: ["Idle", "Prep"],
};

/** Why LCA would reject moving a group from `from` to `to`, or undefined. */
export function stageMoveProblem(from: DesiredStage, to: DesiredStage): string | undefined {
  if (from === to || NEXT_DESIRED_STAGES[from].includes(to)) return undefined;
  return (
    `moves from ${from} to ${to}, which LCA would reject; from ${from} a group may go to ` +
    `${NEXT_DESIRED_STAGES[from].join(" or ")} (the stage in the current output is ${from})`
  );
}
