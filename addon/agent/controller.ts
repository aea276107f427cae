// The spoke agent's ImageBasedUpgrade controller, LCA-compatible: keeps the singleton
// `upgrade` in existence, accepts stage moves LCA accepts (refusing others with LCA's
// conditions), runs the in-progress stage's node work, and keeps validNextStages,
// observedGeneration and history current. Every reconcile starts from the API and the node,
// so a restart at any point resumes the stage.
//
// Across a pivot the IBU travels as a file in the stateroot that boots (LCA's ibu.json): the
// agent restores it from there when it starts in the new stateroot, whose API state is fresh.
import type { Condition, Ibu, IbuStatus, Stage } from "./ibu-types.js";
import { Annotation, IBU_NAME } from "./ibu-types.js";
import type { Node } from "./node.js";
import {
  find,
  idleConditions,
  inProgressStage,
  isFailed,
  isTransitionRequested,
  requestTransition,
  setCondition,
  startPhase as historyStartPhase,
  startStage,
  stopPhase as historyStopPhase,
  stopStage,
  validNextStages,
  completeStage,
  failStage,
  nowTimestamp,
} from "./stage-machine.js";
import type { StageContext, StageOutcome } from "./stages/context.js";
import { cleanup } from "./stages/idle.js";
import { BACKUP_DELETION_TIMEOUT_MS } from "./stages/oadp.js";
import { prep } from "./stages/prep.js";
import { rollback, SAVED_IBU, upgrade } from "./stages/upgrade.js";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { staterootName } from "./seed/format.js";
import { KubeApi, ApiError } from "../shared/kube.js";
import { SILENT, type Logger } from "../shared/log.js";
import { HealthGate } from "./health.js";

export const IBU_PATH = "/apis/lca.openshift.io/v1/imagebasedupgrades";

/** Field added to a saved IBU file: the boot it was saved in. */
const SAVED_AT_BOOT = "ibuGitopsSavedAtBoot";

export interface ControllerOptions {
  readonly api: KubeApi;
  readonly node: Node;
  /** Namespace of the agent: pull secrets are read there. @default openshift-lifecycle-agent */
  readonly namespace?: string;
  /** @default SILENT */
  readonly log?: Logger;
  readonly now?: () => string;
  /** Called with the IBU after every reconcile's status write (the hub reporter listens). */
  readonly onChange?: (ibu: Ibu) => void;
  /**
   * How long a finalize or cancel waits for Velero to delete the backups before it fails, and
   * Prep or the Upgrade for it to delete stale Backups of another cluster.
   * @default 300 (LCA's 5 minutes)
   */
  readonly backupDeletionTimeoutSeconds?: number;
}

/** How long a failed abort or finalize waits before it is tried again (LCA's long requeue). */
const CLEANUP_RETRY_MS = 5 * 60 * 1000;

/** How long a health-check result is reused (LCA re-checks every 20 s; the agent's loop runs every second). */
const HEALTH_RECHECK_MS = 5000;

export class IbuController {
  private lastCleanupAttempt = 0;
  /** The cleanup attempt under way (waiting for Velero), if any; a restart begins a new one. */
  private cleanupStartedAt: number | undefined;
  /** Bounded waits of stages under way (StageContext.waitClock), by stage, generation, what. */
  private readonly waits = new Map<string, number>();
  private readonly healthGate: HealthGate;
  private readonly now: () => string;
  private readonly log: Logger;

  constructor(private readonly opts: ControllerOptions) {
    this.now = opts.now ?? nowTimestamp;
    this.log = opts.log ?? SILENT;
    this.healthGate = new HealthGate(opts.api, HEALTH_RECHECK_MS);
  }

  private get api(): KubeApi {
    return this.opts.api;
  }

  /**
   * Restores the IBU saved in the booted stateroot before a pivot (replacing whatever the API
   * holds), or creates `upgrade` at Idle when it is missing, as LCA does at start and when the
   * IBU is deleted.
   */
  async ensureIbu(): Promise<Ibu> {
    const saved = join(this.opts.node.varOf(this.opts.node.booted().stateroot), SAVED_IBU);
    if (existsSync(saved) && this.savedBeforeThisBoot(saved)) return this.restoreSaved(saved);
    const existing = await this.api.get<Ibu>(`${IBU_PATH}/${IBU_NAME}`);
    if (existing) return existing;
    // Deleted in the middle of a stage: it comes back as it was (LCA does the same), except
    // after a failed Rollback, which no stage may follow: LCA re-creates it fresh at Idle
    // then, the documented way out.
    const lastSeen = this.lastSeenFile();
    if (existsSync(lastSeen)) {
      const last = JSON.parse(readFileSync(lastSeen, "utf8")) as Ibu;
      if (!isFailed(last.status?.conditions, "Rollback"))
        return this.restoreSaved(lastSeen, { keep: true });
      rmSync(lastSeen, { force: true });
      this.log.warn("ImageBasedUpgrade deleted after a failed Rollback: re-created at Idle");
    }
    const fresh = {
      apiVersion: "lca.openshift.io/v1",
      kind: "ImageBasedUpgrade",
      metadata: { name: IBU_NAME },
      spec: { stage: "Idle" },
    };
    try {
      await this.api.create(IBU_PATH, fresh);
      this.log.info("created ImageBasedUpgrade upgrade at Idle");
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
    return (await this.api.get<Ibu>(`${IBU_PATH}/${IBU_NAME}`))!;
  }

  /**
   * A saved IBU is restored only after a reboot: when the agent merely restarted (it crashed
   * between saving and rebooting), the API still holds the live IBU and the file waits.
   */
  private savedBeforeThisBoot(file: string): boolean {
    const savedAt = (JSON.parse(readFileSync(file, "utf8")) as { [SAVED_AT_BOOT]?: string })[
      SAVED_AT_BOOT
    ];
    return savedAt !== this.opts.node.boot.bootId();
  }

  /** The last IBU this agent wrote while a stage was under way (none when Idle). */
  private lastSeenFile(): string {
    return join(this.opts.node.lcaDir(), "ibu-last.json");
  }

  /** resourceVersion of the IBU last written to the last-seen file. */
  private remembered: string | undefined;

  /**
   * Keeps the last-seen file current: LCA saves the IBU as it was when deleted (its watch
   * hands it the deleted object), so a label or annotation added since the last status write
   * must come back too.
   */
  private remember(ibu: Ibu): void {
    if (ibu.metadata.resourceVersion && ibu.metadata.resourceVersion === this.remembered) return;
    this.remembered = ibu.metadata.resourceVersion;
    const file = this.lastSeenFile();
    if (find(ibu.status?.conditions, "Idle")?.status === "True") {
      rmSync(file, { force: true });
      return;
    }
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(`${file}.tmp`, JSON.stringify(ibu));
    renameSync(`${file}.tmp`, file);
  }

  private async restoreSaved(file: string, opts: { keep?: boolean } = {}): Promise<Ibu> {
    const saved = JSON.parse(readFileSync(file, "utf8")) as Ibu;
    await this.api.delete(`${IBU_PATH}/${IBU_NAME}`);
    const created = await this.api.create<Ibu>(IBU_PATH, {
      apiVersion: saved.apiVersion,
      kind: saved.kind,
      // Labels and annotations come back too: LCA restores the saved object's metadata.
      metadata: {
        name: IBU_NAME,
        ...(saved.metadata.labels ? { labels: saved.metadata.labels } : {}),
        ...(saved.metadata.annotations ? { annotations: saved.metadata.annotations } : {}),
      },
      spec: saved.spec,
    });
    // Through writeStatus: validNextStages is recomputed for the stateroot now booted.
    const restored = await this.writeStatus(created, saved.status ?? {});
    if (!opts.keep) rmSync(file, { force: true });
    this.log.info({ file }, `restored ImageBasedUpgrade from ${file}`);
    return restored;
  }

  /** One reconcile: returns true when work remains (the caller runs it again soon). */
  async reconcile(): Promise<boolean> {
    let ibu = await this.ensureIbu();
    this.remember(ibu);
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
        this.log.info(
          { stage: desired, idleKind: r.idleKind, generation },
          `accepted stage ${desired}${r.idleKind ? ` (${r.idleKind})` : ""}`,
        );
      } else {
        const reason = conditions.at(-1)?.message ?? "";
        this.log.warn(
          { stage: desired, generation, reason },
          `refused stage ${desired}: ${reason}`,
        );
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
    if (stage === "Prep") return this.finishStage(ctx, "Prep", await prep(ctx));
    if (stage === "Idle") return this.runIdle(ctx);
    const outcome =
      stage === "Upgrade" ? await upgrade(ctx, afterPivot) : await rollback(ctx, afterPivot);
    return this.finishStage(ctx, stage, outcome);
  }

  /** Cancel or finalize: one cleanup pass, then Idle, a failure, or another pass soon. */
  private async runIdle(ctx: StageContext): Promise<boolean> {
    // The Idle condition's reason says which: it survives a restart of the agent.
    const reason = find(ctx.ibu.status?.conditions, "Idle")?.reason;
    const kind = reason === "Finalizing" || reason === "FinalizeFailed" ? "finalize" : "abort";
    if (!(await this.cleanupDue(ctx, reason))) return false;
    // LCA: finalize (not abort) waits for a healthy cluster before it cleans up.
    if (await this.finalizeWaits(ctx, kind)) return true;
    this.lastCleanupAttempt = Date.now();
    const fresh = this.cleanupStartedAt === undefined;
    const startedAt = (this.cleanupStartedAt ??= Date.now());
    const seconds = this.opts.backupDeletionTimeoutSeconds;
    const outcome = await cleanup(ctx, kind, {
      fresh,
      startedAt,
      backupDeletionTimeoutMs: seconds !== undefined ? seconds * 1000 : undefined,
    });
    if (outcome.kind === "waiting") return true;
    this.cleanupStartedAt = undefined;
    return this.finishIdle(ctx.ibu, kind, outcome);
  }

  /**
   * LCA: a failed cleanup is tried again every 5 minutes, or at once when the user says it was
   * done by hand with the manual-cleanup-done annotation (which is then removed). An attempt
   * waiting for Velero goes on: it began after the failure.
   */
  private async cleanupDue(ctx: StageContext, reason: string | undefined): Promise<boolean> {
    const retry = reason === "AbortFailed" || reason === "FinalizeFailed";
    if (!retry || this.cleanupStartedAt !== undefined) return true;
    if (ctx.ibu.metadata.annotations?.[Annotation.manualCleanupDone] === undefined)
      return Date.now() - this.lastCleanupAttempt >= CLEANUP_RETRY_MS;
    await ctx.annotate(Annotation.manualCleanupDone, null);
    this.log.info("manual-cleanup-done: cleaning up again");
    return true;
  }

  /** Finalize's health check: when the cluster is not healthy, says so on the Idle condition. */
  private async finalizeWaits(ctx: StageContext, kind: "finalize" | "abort"): Promise<boolean> {
    const unhealthy = kind === "finalize" ? await ctx.health("all") : undefined;
    if (!unhealthy) return false;
    const message = `Waiting for system to stabilize before finalize (idle) stage can continue: ${unhealthy}`;
    const i = ctx.ibu;
    const conditions = setCondition(
      i.status?.conditions ?? [],
      { type: "Idle", status: "False", reason: "Finalizing", message },
      this.now(),
    );
    await this.writeStatus(i, { ...i.status, conditions });
    return true;
  }

  /** Records a stage's outcome with LCA's conditions: completed, failed, or nothing (rebooting). */
  private async finishStage(
    ctx: StageContext,
    stage: "Prep" | "Upgrade" | "Rollback",
    outcome: StageOutcome,
  ): Promise<boolean> {
    if (outcome.kind === "rebooting") return false;
    if (outcome.kind === "waiting") return true;
    const latest = ctx.ibu;
    const now = this.now();
    const gen = latest.metadata.generation;
    const conditions = latest.status?.conditions ?? [];
    if (outcome.kind === "failed") {
      this.log.error({ stage, reason: outcome.message }, `${stage} failed: ${outcome.message}`);
      await this.writeStatus(latest, {
        ...latest.status,
        conditions: failStage(conditions, stage, outcome.message, now, gen),
      });
      return false;
    }
    const history = stopStage(latest.status?.history ?? [], stage, now);
    this.log.info({ stage }, `${stage} completed`);
    await this.writeStatus(latest, {
      ...latest.status,
      conditions: completeStage(conditions, stage, now, gen, outcome.message),
      history,
    });
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
    this.log.info({ stage: "Idle", kind }, `${kind} completed: Idle`);
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
      api: this.api,
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
      setRollbackExpiration: time => update(s => ({ ...s, rollbackAvailabilityExpiration: time })),
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
      saveIbu: (file, edit) => {
        const ibu = edit ? edit(get()) : get();
        // Written to a temp file and renamed: a crash never leaves half a saved IBU.
        writeFileSync(
          `${file}.tmp`,
          JSON.stringify({ ...ibu, [SAVED_AT_BOOT]: this.opts.node.boot.bootId() }),
        );
        renameSync(`${file}.tmp`, file);
      },
      event: async (reason, note) => {
        const ibu = get();
        const event = {
          apiVersion: "events.k8s.io/v1",
          kind: "Event",
          // Named as client-go's recorder names events: <object>.<time in hex>.
          metadata: { name: `${IBU_NAME}.${Date.now().toString(16)}`, namespace: "default" },
          eventTime: new Date().toISOString().replace("Z", "000Z"),
          type: "Normal",
          reason,
          action: reason,
          note,
          reportingController: "ImageBasedUpgrade",
          reportingInstance: this.opts.node.identity().hostname ?? "ibu-gitops-agent",
          regarding: {
            apiVersion: ibu.apiVersion,
            kind: ibu.kind,
            name: ibu.metadata.name,
            resourceVersion: ibu.metadata.resourceVersion,
          },
        };
        try {
          await this.api.create("/apis/events.k8s.io/v1/namespaces/default/events", event);
        } catch (err) {
          this.log.warn({ reason, err }, `event ${reason} not recorded`);
        }
      },
      // A stage asked for anew (Prep again after a cancel, say) changes the generation, so it
      // checks afresh rather than reuse the last run's result.
      health: scope =>
        this.healthGate.check(
          scope,
          `${stage()}:${get().metadata.generation ?? 0}:${this.afterPivot(get()) ? "after" : "before"}`,
        ),
      annotate: async (key, value) => {
        if (value === null && get().metadata.annotations?.[key] === undefined) return;
        set(
          await this.api.mergePatch<Ibu>(`${IBU_PATH}/${IBU_NAME}`, {
            metadata: { annotations: { [key]: value } },
          }),
        );
      },
      waitClock: what => {
        const key = `${stage()}:${get().metadata.generation ?? 0}:${what}`;
        const startedAt = this.waits.get(key) ?? Date.now();
        this.waits.set(key, startedAt);
        const seconds = this.opts.backupDeletionTimeoutSeconds;
        return {
          startedAt,
          timeoutMs: seconds !== undefined ? seconds * 1000 : BACKUP_DELETION_TIMEOUT_MS,
          end: () => this.waits.delete(key),
        };
      },
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
      if (JSON.stringify(next) === JSON.stringify(ibu.status ?? {})) {
        this.opts.onChange?.(ibu);
        return ibu;
      }
      try {
        const written = await this.api.replace<Ibu>(`${IBU_PATH}/${IBU_NAME}/status`, {
          ...ibu,
          status: next,
        });
        this.remember(written);
        this.opts.onChange?.(written);
        return written;
      } catch (err) {
        // A spec change raced us: write the same status onto the new version.
        if (!(err instanceof ApiError && err.status === 409) || attempt >= 5) throw err;
        ibu = await this.ensureIbu();
      }
    }
  }
}
