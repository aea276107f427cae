// The spoke agent's ImageBasedUpgrade controller, LCA-compatible: keeps the singleton
// `upgrade` in existence, accepts stage moves LCA accepts (refusing others with LCA's
// conditions), runs the in-progress stage's node work, and keeps validNextStages,
// observedGeneration and history current. Every reconcile starts from the API and the node,
// so a restart at any point resumes the stage.
//
// Stages implemented so far: Prep and the Idle cleanups (cancel). Upgrade and Rollback are
// not: the controller does not start them, and says so in the stage's condition.
import type { Condition, Ibu, IbuStatus, Stage } from "./ibu-types.js";
import { IBU_NAME, Msg } from "./ibu-types.js";
import type { Node } from "./node.js";
import {
  find,
  idleConditions,
  inProgressStage,
  isTransitionRequested,
  requestTransition,
  setCondition,
  startPhase as historyStartPhase,
  startStage,
  stopPhase as historyStopPhase,
  stopStage,
  validNextStages,
} from "./stage-machine.js";
import type { StageContext, StageOutcome } from "./stages/context.js";
import { cleanup } from "./stages/idle.js";
import { prep } from "./stages/prep.js";
import { staterootName } from "./seed/format.js";
import { KubeApi, ApiError } from "../shared/kube.js";

export const IBU_PATH = "/apis/lca.openshift.io/v1/imagebasedupgrades";

export interface ControllerOptions {
  readonly api: KubeApi;
  readonly node: Node;
  /** Namespace of the agent: pull secrets are read there. @default openshift-lifecycle-agent */
  readonly namespace?: string;
  readonly log?: (line: string) => void;
  readonly now?: () => string;
}

export class IbuController {
  private readonly now: () => string;
  private readonly log: (line: string) => void;

  constructor(private readonly opts: ControllerOptions) {
    this.now = opts.now ?? (() => new Date().toISOString().replace(/\.\d{3}Z$/, "Z"));
    this.log = opts.log ?? (() => {});
  }

  private get api(): KubeApi {
    return this.opts.api;
  }

  /** Creates `upgrade` at Idle when it is missing (LCA does at start and when it is deleted). */
  async ensureIbu(): Promise<Ibu> {
    const existing = await this.api.get<Ibu>(`${IBU_PATH}/${IBU_NAME}`);
    if (existing) return existing;
    const fresh = {
      apiVersion: "lca.openshift.io/v1",
      kind: "ImageBasedUpgrade",
      metadata: { name: IBU_NAME },
      spec: { stage: "Idle" },
    };
    try {
      await this.api.create(IBU_PATH, fresh);
      this.log("created ImageBasedUpgrade upgrade at Idle");
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
    return (await this.api.get<Ibu>(`${IBU_PATH}/${IBU_NAME}`))!;
  }

  /** One reconcile: returns true when work remains (the caller runs it again soon). */
  async reconcile(): Promise<boolean> {
    let ibu = await this.ensureIbu();
    const afterPivot = this.afterPivot(ibu);
    let status: IbuStatus = ibu.status ?? {};
    let conditions: Condition[] = [...(status.conditions ?? [])];
    const desired: Stage = ibu.spec.stage ?? "Idle";
    const generation = ibu.metadata.generation;
    if (!conditions.length && desired === "Idle")
      conditions = idleConditions(this.now(), generation);
    if (conditions.length && isTransitionRequested(conditions, desired)) {
      const r = requestTransition(conditions, desired, afterPivot, this.now(), generation);
      conditions = r.conditions;
      if (r.accepted) {
        const history =
          desired === "Idle" ? [] : startStage(status.history ?? [], desired, this.now());
        status = { ...status, history };
        this.log(`accepted stage ${desired}${r.idleKind ? ` (${r.idleKind})` : ""}`);
      } else {
        this.log(`refused stage ${desired}: ${conditions.at(-1)?.message ?? ""}`);
      }
    }
    ibu = await this.writeStatus(ibu, { ...status, conditions });
    const stage = inProgressStage(ibu.status?.conditions);
    if (!stage) return false;
    return this.runStage(ibu, stage, afterPivot);
  }

  private afterPivot(ibu: Ibu): boolean {
    const version = ibu.spec.seedImageRef?.version;
    return version !== undefined && this.opts.node.booted().stateroot === staterootName(version);
  }

  private async runStage(ibu: Ibu, stage: Stage, afterPivot: boolean): Promise<boolean> {
    let current = ibu;
    const ctx = this.context(
      () => current,
      next => (current = next),
    );
    if (stage === "Prep") return this.finishPrep(ctx, await prep(ctx));
    if (stage === "Idle") {
      // The Idle condition's reason says which: it survives a restart of the agent.
      const reason = find(current.status?.conditions, "Idle")?.reason;
      const kind = reason === "Finalizing" || reason === "FinalizeFailed" ? "finalize" : "abort";
      return this.finishIdle(ctx.ibu, kind, await cleanup(ctx, kind));
    }
    // Upgrade and Rollback are not implemented yet: say so where TALM and users look.
    const type = stage === "Upgrade" ? "UpgradeInProgress" : "RollbackInProgress";
    const message = `${stage} is not implemented by this version of the ibu-gitops agent${afterPivot ? "" : "; move back to Idle to cancel"}`;
    const conditions = setCondition(
      current.status?.conditions ?? [],
      { type, status: "True", reason: "InProgress", message },
      this.now(),
    );
    await this.writeStatus(current, { ...current.status, conditions });
    return false;
  }

  private async finishPrep(ctx: StageContext, outcome: StageOutcome): Promise<boolean> {
    const stage = "Prep";
    const latest = ctx.ibu;
    let conditions = [...(latest.status?.conditions ?? [])];
    const now = this.now();
    const gen = latest.metadata.generation;
    if (outcome.kind === "failed") {
      conditions = setCondition(
        conditions,
        { type: "PrepCompleted", status: "False", reason: "Failed", message: Msg.prepFailed },
        now,
        gen,
      );
      conditions = setCondition(
        conditions,
        { type: "PrepInProgress", status: "False", reason: "Failed", message: outcome.message },
        now,
        gen,
      );
      this.log(`${stage} failed: ${outcome.message}`);
      await this.writeStatus(latest, { ...latest.status, conditions });
      return false;
    }
    conditions = setCondition(
      conditions,
      { type: "PrepInProgress", status: "False", reason: "Completed", message: Msg.prepCompleted },
      now,
      gen,
    );
    conditions = setCondition(
      conditions,
      {
        type: "PrepCompleted",
        status: "True",
        reason: "Completed",
        message: Msg.prepStageCompleted,
      },
      now,
      gen,
    );
    const history = stopStage(latest.status?.history ?? [], stage, now);
    this.log(`${stage} completed`);
    await this.writeStatus(latest, { ...latest.status, conditions, history });
    return false;
  }

  private async finishIdle(
    ibu: Ibu,
    kind: "finalize" | "abort",
    outcome: StageOutcome,
  ): Promise<boolean> {
    const now = this.now();
    if (outcome.kind === "failed") {
      const reason = kind === "finalize" ? "FinalizeFailed" : "AbortFailed";
      const conditions = setCondition(
        ibu.status?.conditions ?? [],
        { type: "Idle", status: "False", reason, message: outcome.message },
        now,
      );
      await this.writeStatus(ibu, { ...ibu.status, conditions });
      return false;
    }
    // LCA resets rollbackAvailabilityExpiration on Idle: leave it out.
    const rest: IbuStatus = { ...ibu.status };
    delete (rest as { rollbackAvailabilityExpiration?: string }).rollbackAvailabilityExpiration;
    await this.writeStatus(ibu, {
      ...rest,
      conditions: idleConditions(now, ibu.metadata.generation),
      history: [],
    });
    this.log(`${kind} completed: Idle`);
    return false;
  }

  private context(get: () => Ibu, set: (i: Ibu) => void): StageContext {
    const stage = (): Stage => get().spec.stage ?? "Idle";
    const update = async (fn: (s: IbuStatus) => IbuStatus): Promise<void> => {
      const i = get();
      set(await this.writeStatus(i, fn(i.status ?? {})));
    };
    const now = (): string => this.now();
    return {
      get ibu(): Ibu {
        return get();
      },
      node: this.opts.node,
      progress: message =>
        update(s => ({
          ...s,
          conditions: setCondition(
            s.conditions ?? [],
            {
              type: `${stage()}InProgress` as "PrepInProgress",
              status: "True",
              reason: "InProgress",
              message,
            },
            now(),
          ),
        })),
      startPhase: phase =>
        update(s => ({
          ...s,
          history: historyStartPhase(s.history ?? [], stage(), phase, now()),
        })),
      stopPhase: phase =>
        update(s => ({
          ...s,
          history: historyStopPhase(s.history ?? [], stage(), phase, now()),
        })),
      pullSecret: async name => {
        const ns = this.opts.namespace ?? "openshift-lifecycle-agent";
        const secret = await this.api.get<{ data?: Record<string, string> }>(
          `/api/v1/namespaces/${ns}/secrets/${name}`,
        );
        const data = secret?.data?.[".dockerconfigjson"];
        return data ? Buffer.from(data, "base64").toString("utf8") : undefined;
      },
    };
  }

  /** Writes status (with validNextStages and observedGeneration recomputed) if it changed. */
  private async writeStatus(ibu: Ibu, status: IbuStatus): Promise<Ibu> {
    for (let attempt = 0; ; attempt++) {
      const next: IbuStatus = { ...status, observedGeneration: ibu.metadata.generation };
      // Like LCA's omitempty: no field when no stage may follow (the CRD's CEL rule then refuses any move).
      const stages = validNextStages(status.conditions, this.afterPivot(ibu), ibu.spec.stage);
      if (stages.length) Object.assign(next, { validNextStages: stages });
      else delete (next as { validNextStages?: unknown }).validNextStages;
      if (JSON.stringify(next) === JSON.stringify(ibu.status ?? {})) return ibu;
      try {
        return await this.api.replace<Ibu>(`${IBU_PATH}/${IBU_NAME}/status`, {
          ...ibu,
          status: next,
        });
      } catch (err) {
        // A spec change raced us: write the same status onto the new version.
        if (!(err instanceof ApiError && err.status === 409) || attempt >= 5) throw err;
        ibu = await this.ensureIbu();
      }
    }
  }
}
