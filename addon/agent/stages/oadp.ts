// OADP and extra manifests around the pivot, as LCA does them: Backups from the oadpContent
// ConfigMaps run before the pivot in apply-wave order; the Restores and the extra manifests
// are written into the new stateroot and applied there after the pivot, wave by wave.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { ApiError, type KubeApi, type KubeObject } from "../../shared/kube.js";
import { listIfServed } from "../health.js";
import type { WaitClock } from "./context.js";
import { APPLY_WAVE, goAtoi } from "../../../api/lca.js";

export { APPLY_WAVE, goAtoi } from "../../../api/lca.js";
export const OADP_NAMESPACE = "openshift-adp";

type Ref = { readonly name: string; readonly namespace: string };
type Velero = KubeObject & {
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: {
    backupName?: string;
    labelSelector?: { matchLabels?: Record<string, string>; [k: string]: unknown };
    [k: string]: unknown;
  };
};

/** Every object in the ConfigMaps' data, in ConfigMap, key and document order. */
export async function objectsFromConfigMaps(
  api: KubeApi,
  refs: readonly Ref[],
): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const ref of refs) {
    const cm = await api.get<{ data?: Record<string, string> }>(
      `/api/v1/namespaces/${ref.namespace}/configmaps/${ref.name}`,
    );
    if (!cm) throw new Error(`the ConfigMap ${ref.namespace}/${ref.name} does not exist`);
    for (const key of Object.keys(cm.data ?? {}).sort()) {
      for (const doc of parseAllDocuments(cm.data![key]!)) {
        if (doc.errors.length)
          throw new Error(
            `ConfigMap ${ref.namespace}/${ref.name} key ${key}: ${doc.errors[0]!.message}`,
          );
        const obj = doc.toJS() as KubeObject | null;
        if (obj) out.push(obj);
      }
    }
  }
  return out;
}

export interface OadpContent {
  readonly backups: Velero[];
  readonly restores: Velero[];
}

/** Velero Backups and Restores of the oadpContent ConfigMaps (other kinds are ignored, as LCA does). */
export async function loadOadpContent(api: KubeApi, refs: readonly Ref[]): Promise<OadpContent> {
  const objs = (await objectsFromConfigMaps(api, refs)) as Velero[];
  const velero = objs.filter(o => o.apiVersion === "velero.io/v1");
  return {
    backups: velero.filter(o => o.kind === "Backup"),
    restores: velero.filter(o => o.kind === "Restore"),
  };
}

/** LCA's defaultApplyWave (math.MaxInt32): the wave of an object without one, or with "". */
export const DEFAULT_APPLY_WAVE = 2147483647n;

/** An apply-wave that is not an integer to Go's strconv.Atoi; the message is LCA's. */
export class ApplyWaveError extends Error {}

/**
 * LCA's SortAndGroupByApplyWave: objects grouped by `lca.openshift.io/apply-wave`, ascending;
 * no wave or an empty one is LCA's default, MaxInt32 (so a wave above it comes after those);
 * ties by name in byte order. Throws an ApplyWaveError with LCA's message (`error convert:
 * strconv.Atoi: parsing "three": invalid syntax`) for the first wave in that order that Atoi
 * refuses, which sorts where Atoi's value puts it (0, or the int64 bound), as in LCA.
 * Source: lifecycle-agent internal/common/manifest_helpers.go, internal/common/consts.go.
 */
export function byWave<
  T extends { metadata: { name: string; annotations?: Record<string, string> } },
>(objs: readonly T[]): T[][] {
  const keyed = objs.map(o => {
    const raw = o.metadata.annotations?.[APPLY_WAVE] ?? "";
    return { o, wave: raw === "" ? { value: DEFAULT_APPLY_WAVE } : goAtoi(raw) };
  });
  keyed.sort(
    (a, b) =>
      (a.wave.value < b.wave.value ? -1 : a.wave.value > b.wave.value ? 1 : 0) ||
      Buffer.compare(Buffer.from(a.o.metadata.name), Buffer.from(b.o.metadata.name)),
  );
  const groups: T[][] = [];
  let previous: bigint | undefined;
  for (const { o, wave } of keyed) {
    if (wave.error) throw new ApplyWaveError(`error convert: ${wave.error}`);
    if (previous === wave.value) groups.at(-1)!.push(o);
    else groups.push([o]);
    previous = wave.value;
  }
  return groups;
}

export type RunResult =
  { kind: "done" } | { kind: "waiting" } | { kind: "failed"; names: string[] };

/** Velero's phases, as LCA maps them. */
function phaseOf(
  o: { status?: { phase?: string } } | undefined,
): "succeeded" | "failed" | "pending" | "progressing" {
  const p = o?.status?.phase ?? "";
  if (p === "Completed") return "succeeded";
  if (["Failed", "PartiallyFailed", "FailedValidation"].includes(p)) return "failed";
  return p ? "progressing" : "pending";
}

export const APPLY_LABEL = "lca.openshift.io/apply-label";
/** The label LCA puts on a Backup's apply-label objects, and selects them with. */
export const LCA_BACKUP_LABEL = "lca.openshift.io/backup";

/**
 * The API path of one `lca.openshift.io/apply-label` entry: `group/version/resource/[ns/]name`,
 * or for the core group `v1/resource/[ns/]name`.
 */
export function applyLabelPath(entry: string): string {
  const parts = entry.trim().split("/");
  const core = parts[0] === "v1";
  const [prefix, rest] = core
    ? [`/api/v1`, parts.slice(1)]
    : [`/apis/${parts[0] ?? ""}/${parts[1] ?? ""}`, parts.slice(2)];
  if (rest.length < 2 || rest.length > 3 || rest.some(p => !p))
    throw new Error(
      `${APPLY_LABEL} entry ${JSON.stringify(entry)} is not group/version/resource/[namespace/]name`,
    );
  const [resource, a, b] = rest as [string, string, string | undefined];
  return b ? `${prefix}/namespaces/${a}/${resource}/${b}` : `${prefix}/${resource}/${a}`;
}

/** The apply-label entries of a Backup (none when it has no annotation). */
export function applyLabelEntries(o: Velero): string[] {
  return (o.metadata.annotations?.[APPLY_LABEL] ?? "")
    .split(",")
    .map(e => e.trim())
    .filter(Boolean);
}

/**
 * LCA's apply-label: the listed objects get `lca.openshift.io/backup=<backup>`, and the Backup
 * selects by that label, so only they are backed up of what it includes.
 */
async function applyLabels(api: KubeApi, backup: Velero): Promise<Velero> {
  const entries = applyLabelEntries(backup);
  if (!entries.length) return backup;
  for (const entry of entries) {
    try {
      await api.mergePatch(applyLabelPath(entry), {
        metadata: { labels: { [LCA_BACKUP_LABEL]: backup.metadata.name } },
      });
    } catch (err) {
      throw new Error(
        `failed to label ${entry} for Backup ${backup.metadata.name}: ${(err as Error).message}`,
      );
    }
  }
  const spec = backup.spec ?? {};
  return {
    ...backup,
    spec: {
      ...spec,
      labelSelector: {
        ...spec.labelSelector,
        matchLabels: {
          ...spec.labelSelector?.matchLabels,
          [LCA_BACKUP_LABEL]: backup.metadata.name,
        },
      },
    },
  };
}

/**
 * Runs Velero objects wave by wave: creates a wave's objects, and the next wave only once all
 * succeeded. `labels` go on every object created (LCA's cluster ID on Backups).
 */
export async function runInWaves(
  api: KubeApi,
  objs: readonly Velero[],
  labels: Readonly<Record<string, string>> = {},
): Promise<RunResult> {
  for (const wave of byWave(objs)) {
    const states: Array<{ name: string; phase: ReturnType<typeof phaseOf> }> = [];
    for (const o of wave) {
      let obj: Velero = {
        ...o,
        metadata: {
          ...o.metadata,
          namespace: o.metadata.namespace ?? OADP_NAMESPACE,
          labels: { ...(o.metadata.labels as object), ...labels },
        },
      };
      const path = await api.pathOf(obj);
      let current = await api.get<{ status?: { phase?: string } }>(path);
      if (!current) {
        if (obj.kind === "Backup") obj = await applyLabels(api, obj);
        try {
          current = await api.create(await api.pathOf(obj, true), obj);
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 409)) throw err;
        }
      }
      states.push({ name: o.metadata.name, phase: phaseOf(current) });
    }
    const failed = states.filter(s => s.phase === "failed").map(s => s.name);
    if (failed.length) return { kind: "failed", names: failed };
    if (states.some(s => s.phase !== "succeeded")) return { kind: "waiting" };
  }
  return { kind: "done" };
}

/**
 * Writes groups of objects as files, one folder per group, in order:
 * <dir>/group<N>/<i>_<Kind>_<name>_<ns>.yaml. Written beside `dir` and renamed into place, so
 * a crash leaves either the whole export or none of it.
 */
export function exportGroups(groups: readonly (readonly KubeObject[])[], dir: string): void {
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  groups.forEach((objs, n) => {
    const group = join(tmp, `group${n + 1}`);
    mkdirSync(group, { recursive: true });
    objs.forEach((o, i) =>
      writeFileSync(
        join(
          group,
          `${i + 1}_${o.kind}_${o.metadata?.name ?? ""}_${o.metadata?.namespace ?? ""}.yaml`,
        ),
        stringify(o),
      ),
    );
  });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

/** Writes objects grouped by apply-wave (see exportGroups). */
export function exportInWaves(objs: readonly KubeObject[], dir: string): void {
  exportGroups(byWave(objs as Velero[]), dir);
}

/** The waves written by exportInWaves, in order. */
export function importWaves(dir: string): KubeObject[][] {
  if (!existsSync(dir)) return [];
  const groups = readdirSync(dir)
    .filter(d => /^group\d+$/.test(d))
    .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  return groups.map(g =>
    readdirSync(join(dir, g))
      .sort((a, b) => parseInt(a, 10) - parseInt(b, 10))
      .map(f => parseAllDocuments(readFileSync(join(dir, g, f), "utf8"))[0]!.toJS() as KubeObject),
  );
}

/** The label LCA marks its Backups with: which cluster made them. */
export const CLUSTER_ID_LABEL = "config.openshift.io/clusterID";

/**
 * This cluster's ID, as LCA labels Backups with it: ClusterVersion's spec.clusterID; where
 * ClusterVersion is not served (a plain Kubernetes cluster), the kube-system namespace's UID,
 * which is just as unique to one installation.
 */
export async function clusterId(api: KubeApi): Promise<string> {
  const cv = await api.get<{ spec?: { clusterID?: string } }>(
    "/apis/config.openshift.io/v1/clusterversions/version",
  );
  if (cv?.spec?.clusterID) return cv.spec.clusterID;
  const ns = await api.get<{ metadata: { uid: string } }>("/api/v1/namespaces/kube-system");
  if (!ns) throw new Error("cannot tell the cluster's ID: no ClusterVersion and no kube-system");
  return ns.metadata.uid;
}

export type StaleResult =
  { kind: "done" } | { kind: "waiting"; names: string[] } | { kind: "failed"; message: string };

/**
 * LCA's CleanupStaleBackups: a Backup of the content that already exists but was made by
 * another cluster (another installation sharing the object storage, whose Backups Velero syncs
 * back) would be taken for this upgrade's. Each such Backup gets a DeleteBackupRequest, and the
 * stage waits until Velero has deleted it, for `clock.timeoutMs` from `clock.startedAt` (LCA's
 * waitForDeleteBackupRequests, 5 minutes): then "failed" with LCA's message, as when Velero
 * processed a request with errors. A pass that finds nothing stale ends the clock.
 */
export async function cleanupStaleBackups(
  api: KubeApi,
  backups: readonly Velero[],
  id: string,
  clock: WaitClock,
): Promise<StaleResult> {
  const waiting: string[] = [];
  for (const b of backups) {
    const ns = b.metadata.namespace ?? OADP_NAMESPACE;
    const existing = await api.get<Velero>(
      `/apis/velero.io/v1/namespaces/${ns}/backups/${b.metadata.name}`,
    );
    // As LCA: a Backup with no labels at all is not taken for another cluster's.
    const labels = existing?.metadata.labels as Record<string, string> | undefined;
    if (!existing || !labels || labels[CLUSTER_ID_LABEL] === id) continue;
    const dbrPath = `/apis/velero.io/v1/namespaces/${ns}/deletebackuprequests`;
    const dbr = await api.get<{ status?: { phase?: string; errors?: string[] } }>(
      `${dbrPath}/${b.metadata.name}`,
    );
    if (dbr?.status?.phase === "Processed" && dbr.status.errors?.length)
      return {
        kind: "failed",
        message: `failed to delete backups: deleteBackupRequest ${b.metadata.name} failed with errors: [${dbr.status.errors.join(" ")}]`,
      };
    if (!dbr)
      await api
        .create(dbrPath, {
          apiVersion: "velero.io/v1",
          kind: "DeleteBackupRequest",
          metadata: { name: b.metadata.name, namespace: ns },
          spec: { backupName: b.metadata.name },
        })
        .catch((err: unknown) => {
          if (!(err instanceof ApiError && err.status === 409)) throw err;
        });
    waiting.push(b.metadata.name);
  }
  if (!waiting.length) {
    clock.end();
    return { kind: "done" };
  }
  if (Date.now() - clock.startedAt > clock.timeoutMs)
    return { kind: "failed", message: "failed to delete backups: context deadline exceeded" };
  return { kind: "waiting", names: waiting };
}

/**
 * LCA's cleanupBackupLabels: the objects a Backup's apply-label names lose
 * `lca.openshift.io/backup` again, so a later Backup of the same name cannot select them. An
 * object or a label that is not there is not an error (LCA's NotFound/Invalid), nor is an entry
 * that does not parse (it could not have been labelled).
 */
export async function removeApplyLabels(api: KubeApi, backup: Velero): Promise<void> {
  for (const entry of applyLabelEntries(backup)) {
    let path: string;
    try {
      path = applyLabelPath(entry);
    } catch {
      continue;
    }
    try {
      await api.mergePatch(path, { metadata: { labels: { [LCA_BACKUP_LABEL]: null } } });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) continue;
      throw new Error(
        `failed to remove label ${LCA_BACKUP_LABEL} from ${entry} (Backup ${backup.metadata.name}): ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
}

/** How long a finalize or cancel waits for Velero to delete the Backups (LCA's 5 minutes). */
export const BACKUP_DELETION_TIMEOUT_MS = 5 * 60 * 1000;

export type BackupDeletion =
  { kind: "done" } | { kind: "waiting"; names: string[] } | { kind: "failed"; message: string };

const requestsIn = (ns: string | undefined): string =>
  `/apis/velero.io/v1/namespaces/${ns ?? OADP_NAMESPACE}/deletebackuprequests`;

/**
 * One Backup's DeleteBackupRequest, named like it and labelled with the cluster's ID (LCA's):
 * created on an attempt's first pass (with the Backup's apply-label labels removed), then
 * watched. Returns why deleting it failed, if it did.
 */
async function requestDeletion(
  api: KubeApi,
  b: Velero,
  id: string,
  fresh: boolean,
): Promise<string | undefined> {
  const { name, namespace } = b.metadata;
  const dbr = await api.get<{ status?: { phase?: string; errors?: string[] } }>(
    `${requestsIn(namespace)}/${name}`,
  );
  if (dbr?.status?.phase === "Processed" && dbr.status.errors?.length)
    return `failed to delete backups: deleteBackupRequest ${name} failed with errors: [${dbr.status.errors.join(" ")}]`;
  if (dbr) return undefined;
  if (!fresh) {
    // Velero removes a request once the Backup is gone (which may have just happened).
    const still = await api.get(
      `/apis/velero.io/v1/namespaces/${namespace ?? OADP_NAMESPACE}/backups/${name}`,
    );
    return still
      ? `all DeleteBackupRequests are processed, but backup ${name} is not deleted`
      : undefined;
  }
  await api
    .create(requestsIn(namespace), {
      apiVersion: "velero.io/v1",
      kind: "DeleteBackupRequest",
      metadata: {
        name,
        namespace: namespace ?? OADP_NAMESPACE,
        labels: { [CLUSTER_ID_LABEL]: id },
      },
      spec: { backupName: name },
    })
    .catch((err: unknown) => {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    });
  await removeApplyLabels(api, b);
  return undefined;
}

/**
 * LCA's CleanupDeleteBackupRequests + CleanupBackups + ensureBackupsDeleted, as one pass that
 * does not block: every Backup labelled with this cluster's ID gets a DeleteBackupRequest
 * (requestDeletion) and the pass says whether Velero has deleted them all, is still at it, or
 * failed (a request processed with errors, a request gone but its Backup still there, or
 * `timeoutMs` since `startedAt` passed: LCA's messages). `fresh` is the first pass of an
 * attempt: this cluster's old requests are deleted first, as LCA does, so a retry asks Velero
 * afresh. Nothing to do where Velero's kinds are not served.
 */
export async function deleteBackups(
  api: KubeApi,
  attempt: { fresh: boolean; startedAt: number; timeoutMs?: number },
): Promise<BackupDeletion> {
  const id = await clusterId(api);
  const selector = `?labelSelector=${encodeURIComponent(`${CLUSTER_ID_LABEL}=${id}`)}`;
  const backups = await listIfServed<Velero>(api, `/apis/velero.io/v1/backups${selector}`);
  if (!backups?.length) return { kind: "done" };
  const old = attempt.fresh
    ? await listIfServed<Velero>(api, `/apis/velero.io/v1/deletebackuprequests${selector}`)
    : [];
  for (const d of old ?? [])
    await api.delete(`${requestsIn(d.metadata.namespace)}/${d.metadata.name}`);
  for (const b of backups) {
    const failure = await requestDeletion(api, b, id, attempt.fresh);
    if (failure) return { kind: "failed", message: failure };
  }
  if (Date.now() - attempt.startedAt > (attempt.timeoutMs ?? BACKUP_DELETION_TIMEOUT_MS))
    return { kind: "failed", message: "failed to delete backups: context deadline exceeded" };
  return { kind: "waiting", names: backups.map(b => b.metadata.name) };
}

// ---------------------------------------------------------------- OADP's own configuration

const DPAS = `/apis/oadp.openshift.io/v1alpha1/namespaces/${OADP_NAMESPACE}/dataprotectionapplications`;

/** Where the DataProtectionApplication and its credentials go in a stateroot's /var (LCA's). */
export const oadpConfigDirs = (staterootVar: string): { dpa: string; secret: string } => ({
  dpa: join(staterootVar, "opt", "OADP", "dpa"),
  secret: join(staterootVar, "opt", "OADP", "secret"),
});

type Dpa = KubeObject & {
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: { backupLocations?: Array<{ velero?: { credential?: { name?: string } } }> };
};

/** A problem with OADP's configuration that fails the Upgrade (LCA's messages). */
export class OadpConfigError extends Error {}

/**
 * LCA's ExportOadpConfigurationToDir: the seed's API state has no DataProtectionApplication of
 * this cluster's, so the one in openshift-adp and the credential Secrets its backup locations
 * name go into the new stateroot, to be put back after the pivot before the Restores run.
 * Nothing where OADP is not installed (the kind is not served) or has no DPA.
 */
export async function exportOadpConfiguration(api: KubeApi, staterootVar: string): Promise<void> {
  const dpas = (await listIfServed<Dpa>(api, DPAS)) ?? [];
  if (!dpas.length) return;
  if (dpas.length > 1)
    throw new OadpConfigError(
      `Only one DataProtectionApplication CR is allowed in the ${OADP_NAMESPACE}`,
    );
  const dpa = dpas[0]!;
  const secrets: KubeObject[] = [];
  const names = new Set(
    (dpa.spec?.backupLocations ?? []).flatMap(l => l.velero?.credential?.name ?? []),
  );
  for (const name of names) {
    const s = await api.get<KubeObject & { type?: string; data?: object }>(
      `/api/v1/namespaces/${OADP_NAMESPACE}/secrets/${name}`,
    );
    if (!s)
      throw new OadpConfigError(
        `failed to get storageSecret: secrets "${name}" not found (named by DataProtectionApplication ${dpa.metadata.name})`,
      );
    secrets.push({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: OADP_NAMESPACE, labels: s.metadata?.labels },
      type: s.type,
      data: s.data,
    });
  }
  const dirs = oadpConfigDirs(staterootVar);
  exportGroups([secrets], dirs.secret);
  exportGroups(
    [
      [
        {
          apiVersion: dpa.apiVersion,
          kind: dpa.kind,
          metadata: {
            name: dpa.metadata.name,
            namespace: OADP_NAMESPACE,
            ...(dpa.metadata.labels ? { labels: dpa.metadata.labels } : {}),
            ...(dpa.metadata.annotations ? { annotations: dpa.metadata.annotations } : {}),
          },
          spec: dpa.spec,
        },
      ],
    ],
    dirs.dpa,
  );
}

/** The DataProtectionApplication saved before the pivot, if any. */
export function savedDpa(staterootVar: string): KubeObject | undefined {
  return importWaves(oadpConfigDirs(staterootVar).dpa).flat()[0];
}

/** The saved credentials first, then the DataProtectionApplication: what to put back. */
export function savedOadpConfiguration(staterootVar: string): KubeObject[] {
  const dirs = oadpConfigDirs(staterootVar);
  return [...importWaves(dirs.secret).flat(), ...importWaves(dirs.dpa).flat()];
}

// ---------------------------------------------------------------- LVMS volumes

const PVS = "/api/v1/persistentvolumes";
/** LCA's mark on the LVMS volumes it set to Retain, so it sets exactly those back. */
export const UPDATED_RECLAIM_POLICY = "lca.openshift.io/updated-reclaim-policy";

type Pv = {
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: { persistentVolumeReclaimPolicy?: string };
};

/**
 * LCA's PatchPVsReclaimPolicy: volumes LVMS (TopoLVM) provisioned with reclaim policy Delete are
 * set to Retain before the Backups (Velero restores such volumes only when their data survives
 * the claim's deletion), and marked so that they are set back afterwards.
 */
export async function retainLvmsVolumes(api: KubeApi): Promise<void> {
  for (const pv of await api.list<Pv>(PVS)) {
    const lvms = pv.metadata.annotations?.["pv.kubernetes.io/provisioned-by"] === "topolvm.io";
    if (!lvms || pv.spec?.persistentVolumeReclaimPolicy !== "Delete") continue;
    await api.mergePatch(`${PVS}/${pv.metadata.name}`, {
      metadata: { annotations: { [UPDATED_RECLAIM_POLICY]: "true" } },
      spec: { persistentVolumeReclaimPolicy: "Retain" },
    });
  }
}

/** LCA's RestorePVsReclaimPolicy: the marked volumes get Delete back, and lose the mark. */
export async function restoreLvmsReclaimPolicy(api: KubeApi): Promise<void> {
  for (const pv of await api.list<Pv>(PVS)) {
    if (pv.metadata.annotations?.[UPDATED_RECLAIM_POLICY] !== "true") continue;
    await api.mergePatch(`${PVS}/${pv.metadata.name}`, {
      metadata: { annotations: { [UPDATED_RECLAIM_POLICY]: null } },
      spec: { persistentVolumeReclaimPolicy: "Delete" },
    });
  }
}
