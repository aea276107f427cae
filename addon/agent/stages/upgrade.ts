// Upgrade and Rollback, the stages that pivot: the IBU is saved into the stateroot about to
// boot (its API state will be the seed's, so the IBU comes back from that file), the boot
// order changes, and the node reboots. After the pivot the saved IBU is restored and the
// stage completes.
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { failStage, nowTimestamp } from "../stage-machine.js";
import { Annotation, Msg, type Ibu } from "../ibu-types.js";
import {
  restoreLvmsReclaimPolicy,
  retainLvmsVolumes,
  exportOadpConfiguration,
  OadpConfigError,
  savedDpa,
  savedOadpConfiguration,
  CLUSTER_ID_LABEL,
  cleanupStaleBackups,
  clusterId,
  exportGroups,
  exportInWaves,
  importWaves,
  loadOadpContent,
  objectsFromConfigMaps,
  runInWaves,
} from "./oadp.js";
import { applyManifest, type ApplyProblem } from "./apply.js";
import {
  applyClusterConfig,
  clusterConfigDir,
  exportClusterConfig,
  savedEtcdCarry,
} from "./cluster-config.js";
import {
  ManifestCountError,
  MANIFEST_COUNT_ANNOTATION,
  policyManifests,
} from "./policy-manifests.js";
import { ApiError, type KubeObject } from "../../shared/kube.js";
import { SeedFile, staterootName, type SeedClusterInfo } from "../seed/format.js";
import { pkiProblems, pkiRoots, recert, type RecertSummary } from "../drivers/crypto.js";
import { EtcdRecertError, etcdDataDir, recertWithEtcd } from "../drivers/recert-etcd.js";
import { carryIntoEtcd, EtcdCarryError } from "../drivers/etcd-carry.js";
import { keptSignersDir } from "./prep.js";
import type { StageContext, StageOutcome } from "./context.js";

/** LCA's saved-IBU file, relative to a stateroot's /var. */
export const SAVED_IBU = join("lib", "lca", "ibu.json");

function savedIbuPath(ctx: StageContext, stateroot: string): string {
  const file = join(ctx.node.varOf(stateroot), SAVED_IBU);
  mkdirSync(join(file, ".."), { recursive: true });
  return file;
}

const restoresDir = (ctx: StageContext, stateroot: string): string =>
  join(ctx.node.varOf(stateroot), "opt", "OADP", "veleroRestore");
const manifestsDir = (ctx: StageContext, stateroot: string): string =>
  join(ctx.node.varOf(stateroot), "opt", "extra-manifests");
const policyManifestsDir = (ctx: StageContext, stateroot: string): string =>
  join(ctx.node.varOf(stateroot), "opt", "policy-manifests");

export async function upgrade(ctx: StageContext, afterPivot: boolean): Promise<StageOutcome> {
  return afterPivot ? postPivot(ctx) : prePivot(ctx);
}

/**
 * LCA's "Backing up Application Data" and "Exporting Application Configuration": stale Backups
 * of another cluster deleted (again: Velero may have synced one since Prep), the Backups run
 * wave by wave, then OADP's configuration and the Restores written into the new stateroot.
 * Undefined once all that is done; otherwise what the stage is (waiting, failed).
 */
async function backUpApplicationData(
  ctx: StageContext,
  oadpContent: NonNullable<Ibu["spec"]["oadpContent"]>,
  target: string,
): Promise<StageOutcome | undefined> {
  await ctx.progress("Backing up Application Data");
  const content = await loadOadpContent(ctx.api, oadpContent);
  const id = await clusterId(ctx.api);
  // LCA retries without end here (its error is not one that fails the Upgrade): past the bound
  // the stage says why, and goes on once Velero has deleted them.
  const stale = await cleanupStaleBackups(
    ctx.api,
    content.backups,
    id,
    ctx.waitClock("stale Backups"),
  );
  if (stale.kind !== "done") {
    await ctx.progress(
      stale.kind === "waiting"
        ? `Waiting for stale Backups to be deleted: ${stale.names.join(",")}`
        : `Backing up Application Data: Failure occurred: failed to cleanup stale Backups: ${stale.message}`,
    );
    return { kind: "waiting" };
  }
  if (content.backups.length) await retainLvmsVolumes(ctx.api);
  const result = await runInWaves(ctx.api, content.backups, { [CLUSTER_ID_LABEL]: id });
  if (result.kind === "failed")
    return { kind: "failed", message: `Failed backup CRs: ${result.names.join(",")}` };
  if (result.kind === "waiting") {
    await ctx.progress("Backup of Application Data is in progress");
    return { kind: "waiting" };
  }
  await ctx.progress("Exporting Application Configuration");
  try {
    await exportOadpConfiguration(ctx.api, ctx.node.varOf(target));
  } catch (err) {
    if (!(err instanceof OadpConfigError)) throw err;
    return { kind: "failed", message: err.message };
  }
  exportInWaves(content.restores, restoresDir(ctx, target));
  return undefined;
}

async function prePivot(ctx: StageContext): Promise<StageOutcome> {
  const version = ctx.ibu.spec.seedImageRef?.version ?? "";
  const target = staterootName(version);
  const { ostree } = ctx.node;
  const booted = ctx.node.booted().stateroot;
  const next = ostree.deployments().find(d => d.stateroot === target);
  if (!next)
    return { kind: "failed", message: `stateroot ${target} is not deployed: run Prep again` };
  await ctx.startPhase("PrePivot");
  const unhealthy = await ctx.health("all");
  if (unhealthy) {
    await ctx.progress(
      `Waiting for system to stabilize before Upgrade (pre-pivot) stage can continue: ${unhealthy}`,
    );
    return { kind: "waiting" };
  }
  const { oadpContent = [], extraManifests = [] } = ctx.ibu.spec;
  if (oadpContent.length) {
    const backedUp = await backUpApplicationData(ctx, oadpContent, target);
    if (backedUp) return backedUp;
  }
  await ctx.progress("Exporting Policy and Config Manifests");
  let fromPolicies: KubeObject[][];
  try {
    fromPolicies = await policyManifests(
      ctx.api,
      version,
      ctx.ibu.metadata.annotations?.[MANIFEST_COUNT_ANNOTATION],
    );
  } catch (err) {
    if (!(err instanceof ManifestCountError)) throw err;
    return {
      kind: "failed",
      message: `failed to export manifests from policies: failed to validate and extract manifests from policies: ${err.message}`,
    };
  }
  exportGroups(fromPolicies, policyManifestsDir(ctx, target));
  if (extraManifests.length)
    exportInWaves(await objectsFromConfigMaps(ctx.api, extraManifests), manifestsDir(ctx, target));
  await ctx.progress("Exporting Cluster configuration");
  await exportClusterConfig(
    ctx.api,
    { deploymentDir: ctx.node.booted().dir },
    { deploymentDir: next.dir, staterootVar: ctx.node.varOf(target) },
  );
  await ctx.progress("Regenerating cluster cryptography");
  const cryptoFailure = await regenerateCrypto(ctx, next);
  if (cryptoFailure) return { kind: "failed", message: cryptoFailure };
  await ctx.progress(Msg.inProgress);
  await ctx.stopPhase("PrePivot");
  // The new stateroot gets the IBU as it is; the old one a copy that reads as a failed
  // upgrade, which is what the cluster should say if it ever boots back unplanned.
  ctx.saveIbu(savedIbuPath(ctx, target));
  ctx.saveIbu(savedIbuPath(ctx, booted), ibu => upgradeFailed(ibu, "Uncontrolled rollback"));
  await ostree.setDefault(next);
  await ctx.event("Reboot", "System will now reboot for upgrade");
  await ctx.node.boot.reboot("System will now reboot for upgrade");
  return { kind: "rebooting" };
}

/** The crypto summary the new stateroot's post-pivot check reads, relative to its /var. */
const RECERT_SUMMARY = join("lib", "lca", "recert.json");

/**
 * The new stateroot gets this cluster's own keys and certificates before it ever boots (LCA
 * runs recert before the kubelet starts too): the seed's names become this cluster's and its
 * kubeconfig signers, saved during Prep, stand in for the seed's. Where the stateroot carries
 * the seed's etcd, what etcd holds is regenerated in the same pass (recert-etcd.ts), and the
 * cluster's kubeadmin password hash and install-config go into it (etcd-carry.ts), as LCA has
 * recert do. Returns why the Upgrade fails, when it must (no etcd to open the seed's etcd data
 * with; no object in it to carry into).
 */
async function regenerateCrypto(
  ctx: StageContext,
  next: { stateroot: string; dir: string },
): Promise<string | undefined> {
  const nextVar = ctx.node.varOf(next.stateroot);
  const seed = JSON.parse(
    readFileSync(join(ctx.node.workspace(), SeedFile.manifest), "utf8"),
  ) as SeedClusterInfo;
  const opts = {
    roots: pkiRoots(next.dir, nextVar),
    from: {
      hostname: seed.sno_hostname,
      clusterName: seed.cluster_name,
      baseDomain: seed.base_domain,
      nodeIps: seed.node_ips,
    },
    to: ctx.node.identity(),
    keptDir: keptSignersDir(nextVar),
    stateDir: join(ctx.node.workspace(), "recert"),
  };
  const dataDir = etcdDataDir(nextVar);
  let summary: RecertSummary;
  if (dataDir) {
    const binary = ctx.node.opts.etcdBinary ?? "etcd";
    const carry = savedEtcdCarry(nextVar);
    try {
      summary = await recertWithEtcd({
        ...opts,
        dumpDir: join(ctx.node.workspace(), "recert-etcd"),
        etcd: { dataDir, binary },
        alsoWrite: carry && (etcd => carryIntoEtcd(etcd, carry)),
      });
    } catch (err) {
      if (err instanceof EtcdRecertError)
        return `cluster cryptography check failed: ${err.message}`;
      if (err instanceof EtcdCarryError)
        return `failed to carry the cluster configuration into the seed's etcd: ${err.message}`;
      if (!/ENOENT|EACCES/.test((err as Error).message)) throw err;
      return `the seed's etcd in ${next.stateroot} holds certificates to regenerate, but etcd cannot be run (${(err as Error).message}): give the agent an etcd executable with --etcd`;
    }
  } else summary = recert(opts);
  const file = join(nextVar, RECERT_SUMMARY);
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(summary));
  renameSync(`${file}.tmp`, file);
  // The kept private keys now live in the stateroot's PKI; no second copy stays behind.
  rmSync(keptSignersDir(nextVar), { recursive: true, force: true });
  return undefined;
}

/**
 * The post-pivot check of the cluster's crypto (our part of LCA's post-pivot reconfiguration):
 * every certificate chains to a signer on the node and is valid now, and nothing is the seed's.
 */
function cryptoProblem(ctx: StageContext): string | undefined {
  const booted = ctx.node.booted();
  const bootedVar = ctx.node.varOf(booted.stateroot);
  const file = join(bootedVar, RECERT_SUMMARY);
  if (existsSync(`${file}.verified`)) return undefined;
  if (!existsSync(file))
    return "the cluster's cryptography was not regenerated before the pivot (no recert summary)";
  const summary = JSON.parse(readFileSync(file, "utf8")) as RecertSummary;
  const problems = pkiProblems(pkiRoots(booted.dir, bootedVar), summary.seedFingerprints);
  if (problems.length)
    return `cluster cryptography check failed: ${problems.slice(0, 3).join("; ")}${problems.length > 3 ? ` (and ${problems.length - 3} more)` : ""}`;
  renameSync(file, `${file}.verified`);
  return undefined;
}

/** The IBU as the original stateroot should show it after an unplanned or automatic rollback. */
function upgradeFailed(ibu: Ibu, detail: string): Ibu {
  const status = {
    ...ibu.status,
    conditions: failStage(ibu.status?.conditions ?? [], "Upgrade", detail, nowTimestamp()),
  };
  delete (status as { rollbackAvailabilityExpiration?: string }).rollbackAvailabilityExpiration;
  return { ...ibu, status };
}

/** Go's time.Duration format, which LCA's rollback messages use: 30m0s, 1h0m0s, 45s. */
export function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

const DISABLED = "Disabled";

/**
 * LCA's automatic rollback after the pivot: when the upgrade has not completed within
 * initMonitorTimeoutSeconds (default 1800) of the first post-pivot reconcile, or when a
 * post-pivot step fails terminally, the original stateroot is made the default again, the
 * IBU saved there reads "Upgrade failed" with the reason, and the node reboots. Each trigger
 * can be switched off with LCA's annotations.
 */
async function autoRollback(ctx: StageContext, message: string): Promise<StageOutcome> {
  const { ostree } = ctx.node;
  const booted = ctx.node.booted().stateroot;
  const original = ostree.deployments().find(d => d.stateroot !== booted);
  if (!original)
    return { kind: "failed", message: `${message} (no original deployment to roll back to)` };
  await ostree.setDefault(original);
  ctx.saveIbu(savedIbuPath(ctx, original.stateroot), ibu => upgradeFailed(ibu, message));
  await ctx.node.boot.reboot(message);
  return { kind: "rebooting" };
}

/**
 * Our part of LCA's post-pivot reconfiguration (its installation-configuration unit): the crypto
 * check, then the cluster's configuration applied again. A failure rolls back automatically
 * unless post-reboot-config is Disabled; an API error that may pass is shown and retried.
 */
async function postPivotReconfiguration(ctx: StageContext): Promise<StageOutcome | undefined> {
  const fail = (why: string): Promise<StageOutcome> =>
    ctx.ibu.metadata.annotations?.[Annotation.autoRollbackPostRebootConfig] === DISABLED
      ? Promise.resolve({ kind: "failed", message: why })
      : autoRollback(ctx, `Rollback due to postpivot failure: ${why}`);
  const crypto = cryptoProblem(ctx);
  if (crypto) return fail(crypto);
  const bootedVar = ctx.node.varOf(ctx.node.booted().stateroot);
  let problem: ApplyProblem;
  if (existsSync(clusterConfigDir(bootedVar))) {
    await ctx.progress("Applying Cluster configuration");
    problem = await applyClusterConfig(bootedVar, ctx.api);
  }
  // OADP's credentials and DataProtectionApplication, put back before the Restores need them.
  const oadpApplied = join(bootedVar, "opt", "OADP", "configuration-applied");
  const oadp = problem || existsSync(oadpApplied) ? [] : savedOadpConfiguration(bootedVar);
  if (oadp.length) {
    await ctx.progress("Applying Application configuration");
    for (const obj of oadp) {
      problem = await applyManifest(ctx.api, obj, { mergePatch: true });
      if (problem) break;
    }
    if (!problem) writeFileSync(oadpApplied, new Date().toISOString());
  }
  if (!problem) return undefined;
  const why = `failed to apply manifests, err: ${problem.message}`;
  if (problem.kind !== "other") return fail(why);
  await ctx.progress(`Applying configuration: Failure occurred: ${why}`);
  return { kind: "waiting" };
}

/**
 * LCA's EnsureOadpConfiguration: the DataProtectionApplication saved before the pivot must be
 * there before Restores run; if it is not, the upgrade fails and rolls back.
 */
async function ensureOadpConfiguration(ctx: StageContext): Promise<StageOutcome | undefined> {
  const dpa = savedDpa(ctx.node.varOf(ctx.node.booted().stateroot));
  if (!dpa) return undefined;
  const found = await ctx.api
    .pathOf(dpa)
    .then(path => ctx.api.get(path))
    .catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 404) return undefined; // OADP not served
      throw err;
    });
  if (found) return undefined;
  return postPivotFailure(
    ctx,
    `DataProtectionApplication ${dpa.metadata?.name ?? ""} is not found`,
    "missing DataProtectionApplication",
  );
}

/** A terminal post-pivot failure: roll back automatically unless upgrade-completion is Disabled. */
function postPivotFailure(
  ctx: StageContext,
  message: string,
  rollbackReason: string,
): Promise<StageOutcome> {
  if (ctx.ibu.metadata.annotations?.[Annotation.autoRollbackUpgradeCompletion] === DISABLED) {
    return Promise.resolve({ kind: "failed", message });
  }
  return autoRollback(ctx, `Rollback due to ${rollbackReason}: ${message}`);
}

/** Seconds since the first post-pivot reconcile in this stateroot (recorded in LCA's folder). */
function secondsSincePivot(ctx: StageContext): number {
  const file = join(ctx.node.lcaDir(), "post-pivot-started");
  if (!existsSync(file)) {
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, String(Date.now()));
  }
  return (Date.now() - Number(readFileSync(file, "utf8"))) / 1000;
}

/**
 * LCA's rollbackAvailabilityExpiration: the earliest expiry of the original stateroot's kubelet
 * client and server certificates, less 30 minutes; after it a rollback may need manual recovery
 * of expired control-plane certificates. Undefined when the certificates are not there.
 */
export function rollbackExpiration(originalVar: string): string | undefined {
  const pki = join(originalVar, "lib", "kubelet", "pki");
  const expiries = ["kubelet-client-current.pem", "kubelet-server-current.pem"]
    .map(f => join(pki, f))
    .filter(f => existsSync(f))
    .map(f => new X509Certificate(readFileSync(f)).validTo)
    .map(t => Date.parse(t));
  if (!expiries.length) return undefined;
  return new Date(Math.min(...expiries) - 30 * 60 * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

async function postPivot(ctx: StageContext): Promise<StageOutcome> {
  await ctx.startPhase("PostPivot");
  if (!ctx.ibu.status?.rollbackAvailabilityExpiration) {
    const original = ctx.node.ostree
      .deployments()
      .find(d => d.stateroot !== ctx.node.booted().stateroot);
    const expiry = original ? rollbackExpiration(ctx.node.varOf(original.stateroot)) : undefined;
    if (expiry) await ctx.setRollbackExpiration(expiry);
  }
  const timeout = ctx.ibu.spec.autoRollbackOnFailure?.initMonitorTimeoutSeconds || 1800;
  const monitorOn = ctx.ibu.metadata.annotations?.[Annotation.autoRollbackInitMonitor] !== DISABLED;
  if (monitorOn && secondsSincePivot(ctx) > timeout) {
    return autoRollback(
      ctx,
      `Rollback due to LCA Init Monitor timeout, after ${goDuration(timeout)}`,
    );
  }
  const reconfig = await postPivotReconfiguration(ctx);
  if (reconfig) return reconfig;
  // LCA: the mandatory checks before the manifests and Restores, the deferred ones after.
  const unstable = await ctx.health("mandatory");
  if (unstable) {
    await ctx.progress(`Waiting for system to stabilize: ${unstable}`);
    return { kind: "waiting" };
  }
  const noDpa = await ensureOadpConfiguration(ctx);
  if (noDpa) return noDpa;
  const booted = ctx.node.booted().stateroot;
  for (const [what, dir] of [
    ["Policy", policyManifestsDir(ctx, booted)],
    ["Config", manifestsDir(ctx, booted)],
  ] as const) {
    const outcome = await applyExported(ctx, what, dir);
    if (outcome) return outcome;
  }
  const restored = await restoreApplicationData(ctx, restoresDir(ctx, booted));
  if (restored) return restored;
  const notFullyStable = await ctx.health("deferred");
  if (notFullyStable) {
    await ctx.progress(`Waiting for system to fully stabilize: ${notFullyStable}`);
    return { kind: "waiting" };
  }
  await ctx.stopPhase("PostPivot");
  rmSync(join(ctx.node.lcaDir(), "post-pivot-started"), { force: true });
  return { kind: "done", message: Msg.upgradeCompleted };
}

/** LCA's "Restoring Application Data": the exported Restores, wave by wave. */
async function restoreApplicationData(
  ctx: StageContext,
  restores: string,
): Promise<StageOutcome | undefined> {
  if (!existsSync(restores)) return undefined;
  await ctx.progress("Restoring Application Data");
  const result = await runInWaves(
    ctx.api,
    importWaves(restores).flat() as Parameters<typeof runInWaves>[1],
  );
  if (result.kind === "failed") {
    return postPivotFailure(
      ctx,
      `Failed restore CRs: ${result.names.join(",")}`,
      "restore failure",
    );
  }
  if (result.kind === "waiting") {
    await ctx.progress("Restore of Application Data is in progress");
    return { kind: "waiting" };
  }
  await restoreLvmsReclaimPolicy(ctx.api);
  rmSync(join(restores, ".."), { recursive: true, force: true });
  return undefined;
}

/**
 * LCA's "Applying Policy|Config Manifests": every exported manifest, group by group. An object
 * the API refuses as invalid, or of a kind it does not serve, is a terminal failure (automatic
 * rollback unless upgrade-completion is Disabled); any other error is shown and retried.
 * Applying is create-or-update, so a retry or a restart simply applies again; the folder goes
 * once every manifest is in.
 */
async function applyExported(
  ctx: StageContext,
  what: "Policy" | "Config",
  dir: string,
): Promise<StageOutcome | undefined> {
  if (!existsSync(dir)) return undefined;
  await ctx.progress(`Applying ${what} Manifests`);
  for (const group of importWaves(dir)) {
    for (const obj of group) {
      const problem = await applyManifest(ctx.api, obj);
      if (!problem) continue;
      const message = `failed to apply manifest: ${problem.message}`;
      if (problem.kind !== "other") {
        const reason = `failure applying ${what.toLowerCase()} manifests`;
        return postPivotFailure(ctx, message, reason);
      }
      await ctx.progress(`Applying ${what} Manifests: Failure occurred: ${message}`);
      return { kind: "waiting" };
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return undefined;
}

/** Rollback: boot the original stateroot again; once booted there, the stage is complete. */
export async function rollback(ctx: StageContext, afterPivot: boolean): Promise<StageOutcome> {
  if (!afterPivot) return { kind: "done", message: Msg.rollbackCompleted };
  const { ostree } = ctx.node;
  const booted = ctx.node.booted().stateroot;
  const original = ostree.deployments().find(d => d.stateroot !== booted);
  if (!original) return { kind: "failed", message: "no other deployment to roll back to" };
  await ctx.progress("Initiating rollback");
  await ostree.setDefault(original);
  await ctx.progress("Completing rollback");
  ctx.saveIbu(savedIbuPath(ctx, original.stateroot), ibu => {
    const status = { ...ibu.status };
    delete (status as { rollbackAvailabilityExpiration?: string }).rollbackAvailabilityExpiration;
    return { ...ibu, status };
  });
  await ctx.event("Reboot", "System will now reboot for rollback");
  await ctx.node.boot.reboot("System will now reboot for rollback");
  return { kind: "rebooting" };
}
