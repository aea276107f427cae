// The auto-import rule applied to one cluster (docs/design.md §4): the report's IBU decides
// Disable / Enable / Keep (addon/shared/report.ts autoImportIntent); the hub makes the
// ManagedCluster's disable-auto-import annotation agree. It decides from its watch cache, and
// when that says a change is due it reads the ManagedCluster afresh and merge-patches it with
// the read resourceVersion, so a stale cache, a restart or a second replica never writes twice
// (a 409 sends it round again). Each change is an events.k8s.io/v1 Event on the ManagedCluster.
import { DISABLE_AUTO_IMPORT } from "../shared/report.js";
import { ApiError, type KubeApi } from "../shared/kube.js";
import { microTime } from "../shared/lease.js";
import type { Logger } from "../shared/log.js";
import {
  intentOf,
  toManagedCluster,
  type ManagedClusterInfo,
  type ManagedClusterObject,
} from "./fleet.js";
import type { Report } from "../shared/report.js";

export const MANAGED_CLUSTERS = "/apis/cluster.open-cluster-management.io/v1/managedclusters";
export const EVENTS_NAMESPACE = "default";
export const REPORTING_CONTROLLER = "ibu-gitops.dev/hub-controller";

export type AutoImportAction = "disable" | "enable";

/** What to do now: add or remove the annotation, or nothing. */
export function neededAction(
  report: Report | undefined,
  managed: ManagedClusterInfo | undefined,
): { action: AutoImportAction; reason: string } | undefined {
  const verdict = intentOf(report);
  if (!verdict || !managed || verdict.intent === "Keep") return undefined;
  const present = managed.annotations[DISABLE_AUTO_IMPORT] !== undefined;
  if (verdict.intent === "Disable" && !present)
    return { action: "disable", reason: verdict.reason };
  if (verdict.intent === "Enable" && present) return { action: "enable", reason: verdict.reason };
  return undefined;
}

export interface ApplyContext {
  readonly api: KubeApi;
  /** reportingInstance of the Events: this replica. */
  readonly instance: string;
  readonly log: Logger;
}

export interface Applied {
  readonly action: AutoImportAction;
  readonly reason: string;
  readonly managed: ManagedClusterInfo;
}

const MAX_CONFLICTS = 5;

/**
 * Brings the annotation of `cluster` in line with `report`, starting from the cached
 * ManagedCluster: the merge patch carries the cached resourceVersion, so it only lands when the
 * cache was current; on a conflict the ManagedCluster is read again and the rule decided anew.
 * Resolves with the change made, or with the fresh ManagedCluster when a re-read showed no change
 * was due, or undefined when nothing was due (or the ManagedCluster is gone). Throws on API errors.
 */
export async function applyAutoImport(
  ctx: ApplyContext,
  cluster: string,
  report: Report | undefined,
  cached: ManagedClusterInfo | undefined,
): Promise<Applied | { managed: ManagedClusterInfo } | undefined> {
  const path = `${MANAGED_CLUSTERS}/${encodeURIComponent(cluster)}`;
  let current = cached;
  for (let attempt = 0; ; attempt++) {
    if (!current) return undefined;
    const due = neededAction(report, current);
    if (!due) return attempt ? { managed: current } : undefined;
    const patch = {
      metadata: {
        resourceVersion: current.resourceVersion,
        annotations: { [DISABLE_AUTO_IMPORT]: due.action === "disable" ? "true" : null },
      },
    };
    try {
      const patched = toManagedCluster(await ctx.api.mergePatch<ManagedClusterObject>(path, patch));
      ctx.log.info(
        { cluster, action: due.action, reason: due.reason },
        `${cluster}: auto-import ${due.action === "disable" ? "disabled" : "enabled"} (${due.reason})`,
      );
      return { action: due.action, reason: due.reason, managed: patched };
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      if (!isConflict(err) || attempt >= MAX_CONFLICTS) throw err;
      const fresh = await ctx.api.get<ManagedClusterObject>(path);
      current = fresh && toManagedCluster(fresh);
    }
  }
}

/** The Event for a change made; a failure is logged, not retried (never two Events). */
export async function recordChange(ctx: ApplyContext, applied: Applied): Promise<void> {
  await recordEvent(ctx, applied.managed, applied.action, applied.reason).catch((err: unknown) =>
    ctx.log.warn(
      { cluster: applied.managed.name, err },
      `${applied.managed.name}: could not record the Event`,
    ),
  );
}

async function recordEvent(
  ctx: ApplyContext,
  mc: ManagedClusterInfo,
  action: AutoImportAction,
  why: string,
): Promise<void> {
  const disable = action === "disable";
  const note = disable
    ? `Set ${DISABLE_AUTO_IMPORT}=true: ${why}; the import controller leaves the klusterlet alone while the node pivots`
    : `Removed ${DISABLE_AUTO_IMPORT}: ${why}; auto-import works again`;
  const event = {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    // client-go's naming: <object>.<unix nanoseconds in hex> (generateName refuses a trailing dot)
    metadata: {
      name: `${mc.name}.${(BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n)).toString(16)}`,
      namespace: EVENTS_NAMESPACE,
    },
    eventTime: microTime(),
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: ctx.instance.slice(0, 128),
    action: disable ? "DisableAutoImport" : "EnableAutoImport",
    reason: disable ? "AutoImportDisabled" : "AutoImportEnabled",
    type: "Normal",
    note: note.slice(0, 1024),
    regarding: {
      apiVersion: "cluster.open-cluster-management.io/v1",
      kind: "ManagedCluster",
      name: mc.name,
      ...(mc.uid ? { uid: mc.uid } : {}),
      ...(mc.resourceVersion ? { resourceVersion: mc.resourceVersion } : {}),
    },
  };
  await ctx.api.create(`/apis/events.k8s.io/v1/namespaces/${EVENTS_NAMESPACE}/events`, event);
}

export const isConflict = (err: unknown): boolean => err instanceof ApiError && err.status === 409;
