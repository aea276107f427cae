// Idle after a cancel (abort) or a finalize: remove every stateroot that is not booted (after
// a cancel the new one; after a finalize the old one), the images this upgrade precached,
// LCA's extra-manifest validation-warning annotation, the backups (waiting, bounded, until
// Velero has deleted them) with their apply-label labels, the LVMS volumes' reclaim policy,
// and LCA's workspace. Every step runs even when an earlier one failed, as LCA does.
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { SeedFile } from "../seed/format.js";
import type { StageContext, StageOutcome } from "./context.js";
import type { PrecacheStatus } from "./prep.js";
import { deleteBackups, restoreLvmsReclaimPolicy, type BackupDeletion } from "./oadp.js";
import { Annotation } from "../ibu-types.js";

/** One cleanup pass of an attempt; `fresh` on its first (see deleteBackups). */
export interface CleanupAttempt {
  readonly fresh: boolean;
  /** When the attempt began, in ms since the epoch: the backups' wait is bounded from it. */
  readonly startedAt: number;
  /** @default BACKUP_DELETION_TIMEOUT_MS (LCA's 5 minutes) */
  readonly backupDeletionTimeoutMs?: number;
}

/**
 * Runs every cleanup step once. "waiting" while Velero has yet to delete the backups (the
 * caller runs another pass, not fresh, shortly); "failed" with LCA's message, which tells the
 * user to clean up by hand and add manual-cleanup-done.
 */
export async function cleanup(
  ctx: StageContext,
  kind: "abort" | "finalize",
  attempt: CleanupAttempt = { fresh: true, startedAt: Date.now() },
): Promise<StageOutcome> {
  const errors: string[] = [];
  const step = async (what: string, fn: () => Promise<void> | void): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      errors.push(`${what}: ${(err as Error).message}`);
    }
  };
  const { ostree } = ctx.node;
  const booted = ctx.node.booted().stateroot;
  await step("failed to clean up stateroots", async () => {
    for (const s of ostree.stateroots().filter(x => x !== booted)) await ostree.removeStateroot(s);
  });
  const ws = ctx.node.workspace();
  await step("failed to clean up precached images", async () => {
    // After a finalize the new version uses them; only a cancel orphans them.
    if (kind !== "abort") return;
    const statusFile = join(ws, "precache_status.json");
    const listFile = join(ws, SeedFile.containersList);
    if (!existsSync(statusFile) || !existsSync(listFile)) return;
    const status = JSON.parse(readFileSync(statusFile, "utf8")) as PrecacheStatus;
    const images = readFileSync(listFile, "utf8")
      .split("\n")
      .map(s => s.trim())
      .filter(Boolean);
    await ctx.node.store().remove(images.filter(i => !status.preexisting.includes(i)));
  });
  await step("failed to remove extra manifest warning annotation from IBU", () =>
    ctx.annotate(Annotation.extraManifestWarning, null),
  );
  let backups = { kind: "done" } as BackupDeletion;
  await step("failed to cleanup backups", async () => {
    backups = await deleteBackups(ctx.api, {
      fresh: attempt.fresh,
      startedAt: attempt.startedAt,
      timeoutMs: attempt.backupDeletionTimeoutMs,
    });
    if (backups.kind === "failed") throw new Error(backups.message);
  });
  await step("failed to restore persistentVolumeReclaimPolicy in PVs created by LVMS", () =>
    restoreLvmsReclaimPolicy(ctx.api),
  );
  await step("failed to remove the workspace", () => rmSync(ws, { recursive: true, force: true }));
  if (!errors.length && backups.kind === "waiting") return { kind: "waiting" };
  if (errors.length) {
    return {
      kind: "failed",
      message: `${errors.join("; ")} Perform cleanup manually then add 'lca.openshift.io/manual-cleanup-done' annotation to ibu CR to transition back to Idle`,
    };
  }
  return { kind: "done" };
}
