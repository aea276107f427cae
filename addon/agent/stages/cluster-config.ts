// The cluster's own configuration across the pivot, as LCA carries it: the new stateroot is the
// seed's, so before the pivot what makes the cluster itself is taken from the running cluster
// and written into the new stateroot, and applied again once it runs there. Objects (LCA's
// FetchClusterConfig): the pull secret, the cluster-wide proxy, the cluster ID, image digest
// mirror sets and image content source policies, the SSH-key MachineConfigs and the user CA
// bundle; kinds the cluster does not serve and objects it does not have are skipped. Node
// files (NODE_FILES: host name, NetworkManager connections, chrony, SSH host keys, LVM devices)
// are read at boot, so they go straight into the new deployment's /etc. What LCA has recert
// write into the seed's etcd (the kubeadmin password hash, the install-config, the infra ID)
// is saved for the offline etcd pass before the pivot (drivers/etcd-carry.ts).
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { ApiError, type KubeApi, type KubeObject } from "../../shared/kube.js";
import { listIfServed } from "../health.js";
import type { EtcdCarry } from "../drivers/etcd-carry.js";
import { exportGroups, importWaves } from "./oadp.js";
import { applyManifest, type ApplyProblem } from "./apply.js";

/** Where the configuration goes in a stateroot's /var (LCA's folder). */
export const clusterConfigDir = (staterootVar: string): string =>
  join(staterootVar, "opt", "openshift", "cluster-configuration", "manifests");

/** The node's labels, saved beside the manifests (LCA keeps them in its seed reconfiguration). */
const nodeLabelsFile = (staterootVar: string): string =>
  join(clusterConfigDir(staterootVar), "..", "node-labels.json");

type Obj = KubeObject & {
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [k: string]: unknown;
};

/** What of an object's metadata is carried: its name, and its labels and annotations if asked. */
const meta = (o: Obj, keep: { labels?: boolean; annotations?: boolean } = {}): Obj["metadata"] => ({
  name: o.metadata.name,
  ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
  ...(keep.labels && o.metadata.labels ? { labels: o.metadata.labels } : {}),
  ...(keep.annotations && o.metadata.annotations ? { annotations: o.metadata.annotations } : {}),
});

/** What goes into the seed's etcd, saved beside the manifests (LCA's seed reconfiguration). */
const etcdCarryFile = (staterootVar: string): string =>
  join(clusterConfigDir(staterootVar), "..", "seed-reconfiguration.json");

/** The image mirror kinds LCA carries (and deletes the seed's of): apiVersion, kind, collection. */
const MIRROR_KINDS = [
  [
    "config.openshift.io/v1",
    "ImageDigestMirrorSet",
    "/apis/config.openshift.io/v1/imagedigestmirrorsets",
  ],
  [
    "operator.openshift.io/v1alpha1",
    "ImageContentSourcePolicy",
    "/apis/operator.openshift.io/v1alpha1/imagecontentsourcepolicies",
  ],
] as const;

const CATALOG_SOURCES = "/apis/operators.coreos.com/v1alpha1/catalogsources";

/**
 * Labels of the node that the kubelet or the installer set, which LCA does not carry (its
 * setNodeLabels' defaultLabels): the new stateroot's own are right for it.
 */
export const WELL_KNOWN_NODE_LABELS: readonly string[] = [
  "beta.kubernetes.io/arch",
  "beta.kubernetes.io/os",
  "kubernetes.io/arch",
  "kubernetes.io/hostname",
  "kubernetes.io/os",
  "node-role.kubernetes.io/control-plane",
  "node-role.kubernetes.io/master",
  "node.openshift.io/os_id",
  "node-role.kubernetes.io/worker",
];

/** LCA's GetSNOMasterNode: the one node labelled master, or undefined when there is not exactly one. */
async function snoNode(api: KubeApi): Promise<Obj | undefined> {
  const masters =
    (await listIfServed<Obj>(
      api,
      `/api/v1/nodes?labelSelector=${encodeURIComponent("node-role.kubernetes.io/master")}`,
    )) ?? [];
  return masters.length === 1 ? masters[0] : undefined;
}

/** The node's labels LCA carries: all but the well-known ones. */
export function customNodeLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(labels).filter(([k]) => !WELL_KNOWN_NODE_LABELS.includes(k)),
  );
}

/** The cluster's configuration objects, reduced to what LCA keeps of each. */
export async function gatherClusterConfig(api: KubeApi): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  const one = async (path: string, keep: (o: Obj) => KubeObject): Promise<void> => {
    const o = await api.get<Obj>(path);
    if (o) out.push(keep(o));
  };
  await one("/api/v1/namespaces/openshift-config/secrets/pull-secret", o => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: meta(o),
    type: o.type,
    data: o.data,
  }));
  await one("/apis/config.openshift.io/v1/proxies/cluster", o => ({
    apiVersion: "config.openshift.io/v1",
    kind: "Proxy",
    metadata: meta(o),
    spec: o.spec,
  }));
  // Only the cluster ID: the rest of ClusterVersion is the new release's.
  await one("/apis/config.openshift.io/v1/clusterversions/version", o => ({
    apiVersion: "config.openshift.io/v1",
    kind: "ClusterVersion",
    metadata: meta(o),
    spec: { clusterID: (o.spec as { clusterID?: string } | undefined)?.clusterID },
  }));
  // With their labels and annotations, as LCA's getIDMSs/fetchICSPs keep them.
  for (const [apiVersion, kind, path] of MIRROR_KINDS)
    for (const o of (await listIfServed<Obj>(api, path)) ?? [])
      out.push({
        apiVersion,
        kind,
        metadata: meta(o, { labels: true, annotations: true }),
        spec: o.spec,
      });
  for (const name of ["99-master-ssh", "99-worker-ssh"])
    await one(`/apis/machineconfiguration.openshift.io/v1/machineconfigs/${name}`, o => ({
      apiVersion: "machineconfiguration.openshift.io/v1",
      kind: "MachineConfig",
      metadata: meta(o, { labels: true }),
      spec: o.spec,
    }));
  await one("/api/v1/namespaces/openshift-config/configmaps/user-ca-bundle", o => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: meta(o, { labels: true }),
    data: o.data,
  }));
  return out;
}

/**
 * LCA's GetKubeadminPasswordHash, GetInstallConfig and getInfraID: `kube-system/kubeadmin`'s
 * hash (`""` when the cluster has none: the seed's is deleted then), `kube-system/
 * cluster-config-v1`'s install-config and Infrastructure `cluster`'s infrastructureName (each
 * left out when the cluster has no such object, as our plain-Kubernetes test spokes; LCA fails
 * the Upgrade there).
 */
export async function gatherEtcdCarry(api: KubeApi): Promise<EtcdCarry> {
  const value = async (path: string, key: string, secret: boolean): Promise<string | undefined> => {
    const o = await api.get<{ data?: Record<string, string> }>(path);
    if (!o) return undefined;
    const v = o.data?.[key] ?? "";
    return secret ? Buffer.from(v, "base64").toString("utf8") : v;
  };
  const installConfig = await value(
    "/api/v1/namespaces/kube-system/configmaps/cluster-config-v1",
    "install-config",
    false,
  );
  const infra = await api.get<{ status?: { infrastructureName?: string } }>(
    "/apis/config.openshift.io/v1/infrastructures/cluster",
  );
  const infraId = infra?.status?.infrastructureName;
  return {
    kubeadmin_password_hash:
      (await value("/api/v1/namespaces/kube-system/secrets/kubeadmin", "kubeadmin", true)) ?? "",
    ...(installConfig === undefined ? {} : { install_config: installConfig }),
    ...(infraId ? { infra_id: infraId } : {}),
  };
}

/** What exportClusterConfig saved for the seed's etcd; undefined when nothing was exported. */
export function savedEtcdCarry(staterootVar: string): EtcdCarry | undefined {
  const file = etcdCarryFile(staterootVar);
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as EtcdCarry) : undefined;
}

/**
 * Node files carried into the new deployment before the pivot: in `dir` (relative to a
 * deployment's root), the entries `names` matches. The new deployment's matching entries
 * (the seed's) are replaced by the node's; when the node has none, `whenAbsent` says what
 * becomes of the seed's, as in LCA. Source: lifecycle-agent internal/clusterconfig
 * (fetchNetworkConfig, getChronyConfig, GetServerSSHKeys, fetchLvmDevices), lca-cli/postpivot.
 */
export interface NodeFiles {
  readonly dir: string;
  readonly names: RegExp;
  /** "keep": the seed's stay (LCA writes nothing then); "remove": they go (LCA makes new ones). */
  readonly whenAbsent: "keep" | "remove";
}

export const NODE_FILES: readonly NodeFiles[] = [
  // LCA: the host name (hostnamectl) and the NetworkManager connections, copied over the seed's.
  { dir: "etc", names: /^hostname$/, whenAbsent: "keep" },
  { dir: join("etc", "NetworkManager"), names: /^system-connections$/, whenAbsent: "keep" },
  // LCA: recert writes the node's /etc/chrony.conf, only when the node has one.
  { dir: "etc", names: /^chrony\.conf$/, whenAbsent: "keep" },
  // LCA: the seed's ssh_host_*_key* go and the node's are written; with none on the node, recert
  // makes fresh ones. Here sshd-keygen makes them at boot: no node keeps the seed's keys.
  { dir: join("etc", "ssh"), names: /^ssh_host_.*_key/, whenAbsent: "remove" },
  // LCA: the LVM devices file, so the node's volume groups are found (LCA then runs pvscan;
  // here the file is in place before boot, whose event activation finds them).
  { dir: join("etc", "lvm", "devices"), names: /^system\.devices$/, whenAbsent: "keep" },
];

/**
 * The node files (NODE_FILES) from the booted deployment into the new one. Safe to run again
 * after a crash at any point: each set is removed from the new deployment, then copied.
 */
export function copyNodeFiles(fromDeploymentDir: string, toDeploymentDir: string): void {
  const matching = (dir: string, names: RegExp): string[] =>
    existsSync(dir) ? readdirSync(dir).filter(n => names.test(n)) : [];
  for (const { dir, names, whenAbsent } of NODE_FILES) {
    const src = join(fromDeploymentDir, dir);
    const dst = join(toDeploymentDir, dir);
    const nodes = matching(src, names);
    if (!nodes.length && whenAbsent === "keep") continue;
    for (const n of matching(dst, names)) rmSync(join(dst, n), { recursive: true, force: true });
    if (nodes.length) mkdirSync(dst, { recursive: true });
    for (const n of nodes)
      cpSync(join(src, n), join(dst, n), { recursive: true, preserveTimestamps: true });
  }
}

/**
 * Before the pivot: the configuration objects and what goes into the seed's etcd into the new
 * stateroot (each written whole or not at all), and the node files (NODE_FILES) into the new
 * deployment.
 */
export async function exportClusterConfig(
  api: KubeApi,
  from: { deploymentDir: string },
  to: { deploymentDir: string; staterootVar: string },
): Promise<number> {
  const objects = await gatherClusterConfig(api);
  const dir = clusterConfigDir(to.staterootVar);
  mkdirSync(join(dir, ".."), { recursive: true, mode: 0o700 });
  exportGroups([objects], dir);
  const carryFile = etcdCarryFile(to.staterootVar);
  // The hash is a credential: readable by root only, gone with the folder after the pivot.
  writeFileSync(`${carryFile}.tmp`, JSON.stringify(await gatherEtcdCarry(api)), { mode: 0o600 });
  renameSync(`${carryFile}.tmp`, carryFile);
  const node = await snoNode(api);
  const labelsFile = nodeLabelsFile(to.staterootVar);
  rmSync(labelsFile, { force: true });
  if (node) {
    writeFileSync(
      `${labelsFile}.tmp`,
      JSON.stringify(customNodeLabels(node.metadata.labels ?? {})),
    );
    renameSync(`${labelsFile}.tmp`, labelsFile);
  }
  copyNodeFiles(from.deploymentDir, to.deploymentDir);
  return objects.length;
}

/**
 * LCA's deleteAllOldMirrorResources: the seed's image mirror sets, content source policies and
 * CatalogSources go before the cluster's own are applied (the cluster's CatalogSources come
 * back with its extra or policy manifests). Kinds the cluster does not serve are skipped.
 */
async function deleteSeedMirrorsAndCatalogs(api: KubeApi): Promise<void> {
  for (const path of [...MIRROR_KINDS.map(k => k[2]), CATALOG_SOURCES])
    for (const o of (await listIfServed<Obj>(api, path)) ?? []) {
      const ns = o.metadata.namespace;
      await api.delete(
        ns
          ? path.replace(/\/([^/]+)$/, `/namespaces/${ns}/$1/${o.metadata.name}`)
          : `${path}/${o.metadata.name}`,
      );
    }
}

/** LCA's setNodeLabels: the node's own labels merged back onto the node. */
async function applyNodeLabels(staterootVar: string, api: KubeApi): Promise<ApplyProblem> {
  const file = nodeLabelsFile(staterootVar);
  if (!existsSync(file)) return undefined;
  const labels = JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  if (!Object.keys(labels).length) return undefined;
  const node = await snoNode(api);
  if (!node)
    return {
      kind: "other",
      message: "failed to patch node with new labels: no single master node",
    };
  try {
    await api.mergePatch(`/api/v1/nodes/${node.metadata.name}`, { metadata: { labels } });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return { kind: "other", message: `failed to patch node with new labels: ${err.message}` };
  }
  return undefined;
}

/**
 * After the pivot: the seed's mirror sets and CatalogSources deleted, then the configuration
 * applied again, each object merge-patched into what the seed's state holds (maps merged,
 * lists replaced: the seed's SSH keys do not stay, as with LCA's `oc apply`) or created, and
 * the node's labels put back; then the folder goes (it holds the pull secret). Returns the
 * first problem, if any; applying again after a failure is harmless (the deletion too: only
 * the cluster's own, just applied, would be deleted and applied again).
 */
export async function applyClusterConfig(
  staterootVar: string,
  api: KubeApi,
): Promise<ApplyProblem> {
  const dir = clusterConfigDir(staterootVar);
  if (!existsSync(dir)) return undefined;
  await deleteSeedMirrorsAndCatalogs(api);
  for (const obj of importWaves(dir).flat()) {
    const problem = await applyManifest(api, obj, { mergePatch: true });
    if (problem) return problem;
  }
  const problem = await applyNodeLabels(staterootVar, api);
  if (problem) return problem;
  rmSync(join(dir, ".."), { recursive: true, force: true });
  return undefined;
}
