// LCA's stage machine, rule by rule (shared/reference/lca.md §2–3).
import { describe, expect, it } from "vitest";
import type { Condition, ConditionType, Reason } from "../../../addon/agent/ibu-types.js";
import {
  idleConditions,
  invalidTransitionMessage,
  isTransitionRequested,
  requestTransition,
  setCondition,
  startPhase,
  startStage,
  stopPhase,
  stopStage,
  validNextStages,
} from "../../../addon/agent/stage-machine.js";

const T0 = "2026-11-26T10:00:00Z";
const T1 = "2026-11-26T10:05:00Z";
const c = (
  type: ConditionType,
  status: "True" | "False",
  reason: Reason,
  message = reason,
): Condition => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: T0,
});

const idle = [c("Idle", "True", "Idle")];
const prepping = [c("Idle", "False", "InProgress"), c("PrepInProgress", "True", "InProgress")];
const prepFailed = [
  c("Idle", "False", "InProgress"),
  c("PrepCompleted", "False", "Failed"),
  c("PrepInProgress", "False", "Failed"),
];
const prepped = [
  c("Idle", "False", "InProgress"),
  c("PrepInProgress", "False", "Completed"),
  c("PrepCompleted", "True", "Completed"),
];
const upgrading = [...prepped, c("UpgradeInProgress", "True", "InProgress")];
const upgraded = [
  ...prepped,
  c("UpgradeInProgress", "False", "Completed"),
  c("UpgradeCompleted", "True", "Completed"),
];
const rollingBack = [
  ...prepped,
  c("UpgradeCompleted", "False", "Failed"),
  c("RollbackInProgress", "True", "InProgress"),
];
const rolledBack = [
  ...prepped,
  c("RollbackInProgress", "False", "Completed"),
  c("RollbackCompleted", "True", "Completed"),
];
const rollbackFailed = [...prepped, c("RollbackCompleted", "False", "Failed")];

describe("validNextStages (LCA's table)", () => {
  it.each([
    ["Idle completed", idle, false, ["Prep"]],
    ["a fresh IBU with no Idle condition", [], false, ["Idle"]],
    ["Prep in progress", prepping, false, ["Idle"]],
    ["Prep failed", prepFailed, false, ["Idle"]],
    ["Prep completed", prepped, false, ["Idle", "Upgrade"]],
    ["Upgrade in progress before the pivot", upgrading, false, ["Idle"]],
    ["Upgrade in progress after the pivot", upgrading, true, ["Rollback"]],
    ["Upgrade completed", upgraded, true, ["Idle", "Rollback"]],
    ["Rollback in progress", rollingBack, true, []],
    ["Rollback completed", rolledBack, false, ["Idle"]],
    ["Rollback failed", rollbackFailed, false, []],
    ["Aborting", [c("Idle", "False", "Aborting")], false, []],
    ["Finalize failed", [c("Idle", "False", "FinalizeFailed")], false, []],
  ] as const)("%s → %j", (_what, conds, afterPivot, expected) => {
    expect(validNextStages(conds, afterPivot)).toEqual(expected);
  });
});

describe("accepting a transition", () => {
  it("Idle → Prep sets Idle=False/InProgress and PrepInProgress=True, in that order", () => {
    const r = requestTransition(idle, "Prep", false, T1);
    expect(r.accepted).toBe(true);
    expect(r.conditions.map(x => `${x.type}=${x.status}/${x.reason}/${x.message}`)).toEqual([
      "Idle=False/InProgress/In progress",
      "PrepInProgress=True/InProgress/In progress",
    ]);
    expect(r.conditions[0]!.lastTransitionTime).toBe(T1);
  });

  it("Upgrade → Rollback marks the upgrade failed with 'Rollback requested'", () => {
    const r = requestTransition(upgraded, "Rollback", true, T1);
    const byType = Object.fromEntries(
      r.conditions.map(x => [x.type, `${x.status}/${x.reason}/${x.message}`]),
    );
    expect(byType).toMatchObject({
      UpgradeCompleted: "False/Failed/Rollback requested",
      UpgradeInProgress: "False/Failed/Rollback requested",
      RollbackInProgress: "True/InProgress/In progress",
    });
    expect(r.conditions.at(-1)!.type).toBe("RollbackInProgress");
  });

  it("→ Idle after a completed upgrade is a finalize; during Prep it is an abort", () => {
    expect(requestTransition(upgraded, "Idle", true, T1)).toMatchObject({
      accepted: true,
      idleKind: "finalize",
    });
    expect(requestTransition(upgraded, "Idle", true, T1).conditions.at(-1)).toMatchObject({
      type: "Idle",
      reason: "Finalizing",
      message: "Finalizing",
    });
    expect(requestTransition(prepping, "Idle", false, T1)).toMatchObject({
      accepted: true,
      idleKind: "abort",
    });
    expect(requestTransition(prepping, "Idle", false, T1).conditions.at(-1)).toMatchObject({
      reason: "Aborting",
      message: "Aborting",
    });
  });

  it("refuses a move outside validNextStages with LCA's InvalidTransition messages", () => {
    const r = requestTransition(idle, "Upgrade", false, T1);
    expect(r.accepted).toBe(false);
    expect(r.conditions.at(-1)).toMatchObject({
      type: "UpgradeInProgress",
      status: "False",
      reason: "InvalidTransition",
      message: "Previous stage not succeeded",
    });
    expect(invalidTransitionMessage(idle, "Rollback", false)).toBe(
      "Upgrade not started or already finalized",
    );
    expect(invalidTransitionMessage(upgrading, "Idle", true)).toBe(
      "Transition to Idle not allowed - Rollback first",
    );
    expect(invalidTransitionMessage(rollingBack, "Idle", true)).toBe(
      "Transition to Idle not allowed - Rollback is in progress",
    );
    expect(invalidTransitionMessage(rollbackFailed, "Idle", false)).toBe(
      "Transition to Idle not allowed - Rollback failed",
    );
  });

  it("clears InvalidTransition conditions on the next valid move", () => {
    const refused = requestTransition(idle, "Upgrade", false, T1).conditions;
    const r = requestTransition(refused, "Prep", false, T1);
    expect(r.conditions.some(x => x.reason === "InvalidTransition")).toBe(false);
  });

  it("does nothing for a stage already done or failed (re-requesting a failed stage is not a request)", () => {
    expect(isTransitionRequested(prepFailed, "Prep")).toBe(false);
    expect(isTransitionRequested(prepped, "Prep")).toBe(false);
    expect(isTransitionRequested(prepped, "Upgrade")).toBe(true);
    expect(isTransitionRequested(idle, "Idle")).toBe(false);
  });
});

describe("condition bookkeeping", () => {
  it("moves a condition whose status changes to the end, keeps others in place", () => {
    const a = setCondition(
      prepping,
      { type: "Idle", status: "False", reason: "InProgress", message: "In progress" },
      T1,
    );
    expect(a.map(x => x.type)).toEqual(["PrepInProgress", "Idle"]); // Idle always moves to the end
    const b = setCondition(
      a,
      {
        type: "PrepInProgress",
        status: "True",
        reason: "InProgress",
        message: "Precache job in progress",
      },
      T1,
    );
    expect(b.map(x => x.type)).toEqual(["PrepInProgress", "Idle"]); // same status: stays, message updated
    expect(b[0]!.message).toBe("Precache job in progress");
    expect(b[0]!.lastTransitionTime).toBe(T0);
  });

  it("resets to a single Idle=True condition", () => {
    expect(idleConditions(T1)).toEqual([
      { type: "Idle", status: "True", reason: "Idle", message: "Idle", lastTransitionTime: T1 },
    ]);
  });
});

describe("history", () => {
  it("records stages and phases with start and completion times, never Idle", () => {
    let h = startStage([], "Idle", T0);
    expect(h).toEqual([]);
    h = startStage(h, "Prep", T0);
    h = startPhase(h, "Prep", "Stateroot", T0);
    h = stopPhase(h, "Prep", "Stateroot", T1);
    h = startPhase(h, "Prep", "Precache", T1);
    h = stopPhase(h, "Prep", "Precache", T1);
    h = stopStage(h, "Prep", T1);
    h = startStage(h, "Prep", T1); // already started: no second entry
    expect(h).toEqual([
      {
        stage: "Prep",
        startTime: T0,
        completionTime: T1,
        phases: [
          { phase: "Stateroot", startTime: T0, completionTime: T1 },
          { phase: "Precache", startTime: T1, completionTime: T1 },
        ],
      },
    ]);
  });
});
