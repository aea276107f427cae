// What a stage's work sees: the IBU, the node, and callbacks that write progress into the
// IBU status right away (messages and history phases), as LCA does.
import type { Ibu } from "../ibu-types.js";
import type { Node } from "../node.js";
import type { KubeApi } from "../../shared/kube.js";
import type { HealthScope } from "../health.js";

export type StageOutcome =
  | { readonly kind: "done"; readonly message?: string }
  | { readonly kind: "failed"; readonly message: string }
  /** The node is rebooting: the agent ends and resumes in the stateroot it boots. */
  | { readonly kind: "rebooting" }
  /** Waiting on something else (Velero, a cluster not yet healthy): run the stage again shortly. */
  | { readonly kind: "waiting" };

export interface StageContext {
  readonly ibu: Ibu;
  readonly node: Node;
  /** The spoke's API, as the agent. */
  readonly api: KubeApi;
  /** Sets the stage's in-progress condition message (status stays InProgress). */
  progress(message: string): Promise<void>;
  startPhase(phase: string): Promise<void>;
  /** Sets status.rollbackAvailabilityExpiration (an RFC 3339 time). */
  setRollbackExpiration(time: string): Promise<void>;
  stopPhase(phase: string): Promise<void>;
  /** Writes the IBU as it is now (spec and status) to a file, as LCA saves it across a pivot. */
  saveIbu(file: string, edit?: (ibu: Ibu) => Ibu): void;
  /** A Normal event about the IBU, as LCA records its two Reboot events; never fails the stage. */
  event(reason: string, note: string): Promise<void>;
  /**
   * LCA's health checks of `scope`: undefined when healthy, else LCA's message. A result is
   * reused for a few seconds, so a waiting stage run again every second does not hammer the API.
   */
  health(scope: HealthScope): Promise<string | undefined>;
  /** Sets (or, with null, removes) an annotation on the IBU. */
  annotate(key: string, value: string | null): Promise<void>;
  /** `.dockerconfigjson` of a Secret in the agent's namespace, or undefined. */
  pullSecret(name: string): Promise<string | undefined>;
  /**
   * A bounded wait for Velero to delete backups (LCA polls for up to 5 minutes): when this
   * stage, in this agent process, began waiting for `what` (ms since the epoch; the first call
   * starts the clock), and how long it may wait (the agent's backupDeletionTimeoutSeconds).
   * `end()` stops the clock, so a later wait starts afresh; so does an agent restart, as a
   * restart of LCA starts its poll again.
   */
  waitClock(what: string): WaitClock;
}

export interface WaitClock {
  readonly startedAt: number;
  readonly timeoutMs: number;
  end(): void;
}
