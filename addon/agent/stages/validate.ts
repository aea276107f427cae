// Prep's validation of the IBU's OADP content and extra manifests, as LCA's validateIBUSpec
// does it: every object is tried against the API server with a server-side dry run. OADP
// problems fail Prep; extra-manifest problems either fail Prep (errors) or only warn (kinds
// the cluster does not serve yet, namespaces that do not exist, objects the API refuses).
import { parseAllDocuments } from "yaml";
import type { ApiResponse, KubeApi, KubeObject } from "../../shared/kube.js";
import { listIfServed } from "../health.js";
import { applyManifest, messageOf } from "./apply.js";
import {
  APPLY_LABEL,
  ApplyWaveError,
  applyLabelEntries,
  applyLabelPath,
  byWave,
  LCA_BACKUP_LABEL,
  OADP_NAMESPACE,
} from "./oadp.js";

type Ref = { readonly name: string; readonly namespace: string };
type Manifest = KubeObject & {
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: { backupName?: string };
};

/** A validation failure: its message is LCA's and fails Prep. */
export class ValidationError extends Error {}

interface ConfigMap {
  readonly name: string;
  readonly data: Record<string, string>;
}

/** The ConfigMaps (each once), or the name of the first one missing. */
async function readConfigMaps(
  api: KubeApi,
  refs: readonly Ref[],
): Promise<ConfigMap[] | { missing: string }> {
  const seen = new Set<string>();
  const out: ConfigMap[] = [];
  for (const ref of refs) {
    const key = `${ref.namespace}/${ref.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const cm = await api.get<{ data?: Record<string, string> }>(
      `/api/v1/namespaces/${ref.namespace}/configmaps/${ref.name}`,
    );
    if (!cm) return { missing: ref.name };
    out.push({ name: ref.name, data: cm.data ?? {} });
  }
  return out;
}

/** Every document of the ConfigMaps, in ConfigMap, key and document order; undecodable ones as errors. */
function decode(cms: readonly ConfigMap[]): { objects: Manifest[]; errors: string[] } {
  const objects: Manifest[] = [];
  const errors: string[] = [];
  for (const cm of cms) {
    for (const key of Object.keys(cm.data).sort()) {
      for (const doc of parseAllDocuments(cm.data[key]!)) {
        const fail = (why: string): void => {
          errors.push(`failed to decode ${key} in the configMap ${cm.name}: ${why}`);
        };
        if (doc.errors.length) {
          fail(doc.errors[0]!.message);
          continue;
        }
        const obj = doc.toJS() as unknown;
        if (obj === null || obj === undefined) continue;
        if (typeof obj !== "object" || Array.isArray(obj)) {
          fail("the document is not an object");
          continue;
        }
        const o = obj as Partial<Manifest>;
        if (typeof o.kind !== "string" || !o.kind) {
          fail("Object 'Kind' is missing");
          continue;
        }
        if (typeof o.apiVersion !== "string" || !o.apiVersion) {
          fail("Object 'apiVersion' is missing");
          continue;
        }
        const metadata = { ...(o.metadata ?? {}) } as Manifest["metadata"];
        metadata.name = typeof metadata.name === "string" ? metadata.name : "";
        // LCA drops these before dry runs and applies.
        delete (metadata as { uid?: string }).uid;
        delete (metadata as { resourceVersion?: string }).resourceVersion;
        objects.push({ ...(o as Manifest), metadata });
      }
    }
  }
  return { objects, errors };
}

/** Creates `obj` with a server-side dry run (`?dryRun=All`): nothing is stored. */
async function dryRunCreate(api: KubeApi, obj: Manifest): Promise<ApiResponse> {
  return api.request("POST", `${await api.pathOf(obj, true)}?dryRun=All`, obj);
}

const ok = (res: ApiResponse): boolean => res.status === 200 || res.status === 201;

/**
 * LCA's OADP checks before the ConfigMaps: the OADP operator's CSV in openshift-adp and exactly
 * one DataProtectionApplication there. A kind the cluster does not serve is not checked (our
 * test spokes are plain Kubernetes; docs/decisions.md).
 */
async function checkOadpOperator(api: KubeApi, fail: (message: string) => never): Promise<void> {
  const csvs = await listIfServed(
    api,
    `/apis/operators.coreos.com/v1alpha1/namespaces/${OADP_NAMESPACE}/clusterserviceversions`,
  );
  if (csvs && !csvs.some(c => (c.metadata?.name ?? "").startsWith("oadp-operator")))
    fail(`Please ensure OADP operator is installed in the ${OADP_NAMESPACE}`);
  const dpas = await listIfServed(
    api,
    `/apis/oadp.openshift.io/v1alpha1/namespaces/${OADP_NAMESPACE}/dataprotectionapplications`,
  );
  if (dpas && dpas.length === 0)
    fail(`No DataProtectionApplication CR found in the ${OADP_NAMESPACE}`);
  if (dpas && dpas.length > 1)
    fail(
      `Only one DataProtectionApplication CR is allowed in the ${OADP_NAMESPACE}, found ${dpas.length}`,
    );
}

/**
 * LCA's ValidateOadpConfigmaps: the ConfigMaps exist, every Backup and Restore passes a dry-run
 * create, every Restore's backupName names a Backup of the content, and Backups and Restores
 * pair one to one. Throws a ValidationError with LCA's message.
 */
export async function validateOadpContent(api: KubeApi, refs: readonly Ref[]): Promise<void> {
  const fail = (message: string): never => {
    throw new ValidationError(`failed to validate oadp configMap: ${message}`);
  };
  await checkOadpOperator(api, fail);
  const cms = await readConfigMaps(api, refs);
  if ("missing" in cms) {
    return fail(
      `OADP configmap not found, error: configmaps "${cms.missing}" not found. Please create the configmap.`,
    );
  }
  const { objects, errors } = decode(cms);
  if (errors.length) fail(`failed to decode file: ${errors[0]!.replace(/^failed to decode /, "")}`);
  const velero = objects
    .filter(o => o.apiVersion === "velero.io/v1")
    .map(o => ({
      ...o,
      metadata: { ...o.metadata, namespace: o.metadata.namespace ?? OADP_NAMESPACE },
    }));
  const backups = velero.filter(o => o.kind === "Backup");
  const restores = velero.filter(o => o.kind === "Restore");
  const dryRun = async (o: Manifest, label: string, kind: string): Promise<void> => {
    let res: ApiResponse;
    try {
      res = await dryRunCreate(api, o);
    } catch (err) {
      return fail(`failed to create ${label} with dry run: ${(err as Error).message}`);
    }
    if (res.status === 422) {
      fail(
        `Invalid ${label} ${o.metadata.name} detected in configmap, error: ${messageOf(res)}. Please update the invalid ${kind} in configmap.`,
      );
    }
    if (!ok(res) && res.status !== 409)
      fail(`failed to create ${label} with dry run: ${messageOf(res)}`);
  };
  for (const b of backups) {
    await dryRun(b, "backup", "Backup");
    // LCA dry-run patches every object the Backup's apply-label names with its label.
    for (const entry of applyLabelEntries(b)) {
      let path = "";
      try {
        path = applyLabelPath(entry);
      } catch (err) {
        fail(`backup ${b.metadata.name}: ${(err as Error).message}`);
      }
      const res = await api.request(
        "PATCH",
        `${path}?dryRun=All`,
        { metadata: { labels: { [LCA_BACKUP_LABEL]: b.metadata.name } } },
        "application/merge-patch+json",
      );
      if (!ok(res))
        fail(
          `backup ${b.metadata.name}: cannot label ${entry} (${APPLY_LABEL}): ${messageOf(res)}`,
        );
    }
  }
  for (const r of restores) {
    await dryRun(r, "Restore", "Restore");
    const backupName = r.spec?.backupName ?? "";
    if (!backups.some(b => b.metadata.name === backupName)) {
      fail(
        `The backup CR ${backupName} defined in restore CR ${r.metadata.name} not found in OADP configmaps`,
      );
    }
  }
  if (!backups.length || !restores.length || backups.length !== restores.length) {
    fail(
      "Both backup and restore CRs should be specified in OADP configmaps and each backup CR should be paired with a corresponding restore CR.",
    );
  }
  checkWaves(backups, "error while getting sorted backups from configmap", fail);
  checkWaves(restores, "failed to sort restore CRs", fail);
}

/**
 * Our check, not LCA's: LCA's Prep does not order the Backups and Restores, so an apply-wave
 * strconv.Atoi refuses passes Prep there and then stops the Upgrade before the pivot, retried
 * without end (`error while getting sorted backups from configmap: error convert: ...`, or
 * `failed to sort restore CRs: ...` when exporting the Restores). Here Prep fails with LCA's
 * words for it (docs/decisions.md).
 */
function checkWaves(objs: readonly Manifest[], what: string, fail: (m: string) => never): void {
  try {
    byWave(objs);
  } catch (err) {
    if (!(err instanceof ApplyWaveError)) throw err;
    fail(`${what}: ${err.message}`);
  }
}

const EXTRA_PREFIX = "failed to validate extramanifest cms: ";

/** Kinds LCA refuses in extra manifests, by apiVersion. */
const DISALLOWED: Record<string, readonly string[]> = {
  "machineconfiguration.openshift.io/v1": ["MachineConfig"],
  "operators.coreos.com/v1alpha1": ["ClusterServiceVersion", "InstallPlan", "Subscription"],
};

/**
 * LCA's ValidateExtraManifestConfigmaps: every manifest, in apply-wave order, is dry-run
 * created (or replaced, when it exists). Returns the warnings (`; `-joined, empty when none);
 * throws a ValidationError for errors (a missing ConfigMap, a document that does not decode,
 * an empty name, a disallowed kind) and for a dry run failing other than as invalid.
 * Namespaces the ConfigMaps create are created for the dry run and deleted afterwards, as LCA does.
 */
export async function validateExtraManifests(api: KubeApi, refs: readonly Ref[]): Promise<string> {
  const cms = await readConfigMaps(api, refs);
  if ("missing" in cms) {
    throw new ValidationError(
      `${EXTRA_PREFIX}the extraManifests configMap is not found, error: configmaps "${cms.missing}" not found. Please create the configMap.`,
    );
  }
  const { objects, errors } = decode(cms);
  let waves: Manifest[][];
  try {
    waves = byWave(objects);
  } catch (err) {
    // LCA: a wave Atoi refuses fails the validation at once, before the other errors.
    if (!(err instanceof ApplyWaveError)) throw err;
    throw new ValidationError(`${EXTRA_PREFIX}failed to sort and group manifests: ${err.message}`);
  }
  const state: ExtraState = { errors, warnings: [], namespacesInContent: new Set(), faked: [] };
  try {
    for (const wave of waves) for (const m of wave) await checkManifest(api, m, state);
  } finally {
    for (const ns of state.faked)
      await api.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
  }
  if (errors.length) throw new ValidationError(`${EXTRA_PREFIX}${errors.join("; ")}`);
  return state.warnings.join("; ");
}

interface ExtraState {
  readonly errors: string[];
  readonly warnings: string[];
  /** Namespaces the content creates (earlier in wave order). */
  readonly namespacesInContent: Set<string>;
  /** Namespaces created for the dry runs, deleted afterwards. */
  readonly faked: string[];
}

/** One extra manifest, as LCA checks it: name, kind, namespace, then a dry run. */
async function checkManifest(api: KubeApi, m: Manifest, state: ExtraState): Promise<void> {
  const { kind } = m;
  const { name, namespace } = m.metadata;
  if (!name) return void state.errors.push(`${kind} resource name is empty`);
  if (DISALLOWED[m.apiVersion]?.includes(kind))
    return void state.errors.push(`${kind}[${name}] in extramanifests is not allowed`);
  if (kind === "Namespace" && m.apiVersion === "v1") {
    state.namespacesInContent.add(name);
    return;
  }
  if (!(await namespaceReady(api, m, state))) return;
  // A dry run of what the agent does after the pivot: create, replace or merge.
  const problem = await applyManifest(api, m, { dryRun: true });
  if (problem?.kind === "unserved")
    state.warnings.push(`${kind}[${name}] - CRD not deployed on cluster`);
  else if (problem?.kind === "invalid")
    state.warnings.push(
      `${kind}[${name}] - dryrun failed in namespace ${namespace ?? ""}: ${problem.message}`,
    );
  else if (problem)
    throw new ValidationError(
      `${EXTRA_PREFIX}failed to validate manifest with dryrun: ${problem.message}`,
    );
}

/**
 * The manifest's namespace exists, or the content creates it (then it is created for the dry
 * run). False, with a warning, when neither.
 */
async function namespaceReady(api: KubeApi, m: Manifest, state: ExtraState): Promise<boolean> {
  const { namespace, name } = m.metadata;
  if (!namespace || namespace === "default") return true;
  if (await api.get(`/api/v1/namespaces/${namespace}`)) return true;
  if (!state.namespacesInContent.has(namespace)) {
    state.warnings.push(
      `${m.kind}[${name}] - namespace ${namespace} not found on cluster or not added in configmap in right order`,
    );
    return false;
  }
  const res = await api.request("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: namespace },
  });
  if (ok(res)) state.faked.push(namespace);
  else if (res.status !== 409)
    throw new ValidationError(
      `${EXTRA_PREFIX}failed to create namespace ${namespace} for dryrun: ${messageOf(res)}`,
    );
  return true;
}
