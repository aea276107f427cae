// The cluster's own configuration across the pivot, as LCA carries it: the new stateroot is the
// seed's, so before the pivot what makes the cluster itself is taken from the running cluster
// and written into the new stateroot, and applied again once it runs there. Objects (LCA's
// FetchClusterConfig): the pull secret, the cluster-wide proxy, the cluster ID, image digest
// mirror sets and image content source policies, the SSH-key MachineConfigs and the user CA
// bundle; kinds the cluster does not serve and objects it does not have are skipped. Node
// files (LCA's network configuration): /etc/hostname and NetworkManager's connections, which a
// node needs before it boots, so they go straight into the new deployment's /etc.
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { KubeApi, KubeObject } from "../../shared/kube.js";
import { listIfServed } from "../health.js";
import { exportGroups, importWaves } from "./oadp.js";
import { applyManifest, type ApplyProblem } from "./apply.js";

/** Where the configuration goes in a stateroot's /var (LCA's folder). */
export const clusterConfigDir = (staterootVar: string): string =>
  join(staterootVar, "opt", "openshift", "cluster-configuration", "manifests");

type Obj = KubeObject & {
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
};

const meta = (o: Obj, labels = false): Obj["metadata"] => ({
  name: o.metadata.name,
  ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
  ...(labels && o.metadata.labels ? { labels: o.metadata.labels } : {}),
});

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
  for (const [apiVersion, kind, path] of [
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
  ] as const)
    for (const o of (await listIfServed<Obj>(api, path)) ?? [])
      out.push({ apiVersion, kind, metadata: meta(o), spec: o.spec });
  for (const name of ["99-master-ssh", "99-worker-ssh"])
    await one(`/apis/machineconfiguration.openshift.io/v1/machineconfigs/${name}`, o => ({
      apiVersion: "machineconfiguration.openshift.io/v1",
      kind: "MachineConfig",
      metadata: meta(o, true),
      spec: o.spec,
    }));
  await one("/api/v1/namespaces/openshift-config/configmaps/user-ca-bundle", o => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: meta(o, true),
    data: o.data,
  }));
  return out;
}

/** Node files a node needs before it boots, relative to a deployment's root. */
const NODE_FILES = [join("etc", "hostname"), join("etc", "NetworkManager", "system-connections")];

/**
 * Before the pivot: the configuration objects into the new stateroot (written whole or not at
 * all), and the node's host name and connections into the new deployment's /etc.
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
  for (const rel of NODE_FILES) {
    const src = join(from.deploymentDir, rel);
    if (!existsSync(src)) continue;
    const dst = join(to.deploymentDir, rel);
    rmSync(dst, { recursive: true, force: true });
    mkdirSync(join(dst, ".."), { recursive: true });
    cpSync(src, dst, { recursive: true, preserveTimestamps: true });
  }
  return objects.length;
}

/**
 * After the pivot: the configuration applied again, each object merge-patched into what the
 * seed's state holds (maps merged, lists replaced: the seed's SSH keys do not stay, as with
 * LCA's `oc apply`), then the folder goes (it holds the pull secret).
 * Returns the first problem, if any; applying again after a failure is harmless.
 */
export async function applyClusterConfig(
  staterootVar: string,
  api: KubeApi,
): Promise<ApplyProblem> {
  const dir = clusterConfigDir(staterootVar);
  if (!existsSync(dir)) return undefined;
  for (const obj of importWaves(dir).flat()) {
    const problem = await applyManifest(api, obj, { mergePatch: true });
    if (problem) return problem;
  }
  rmSync(join(dir, ".."), { recursive: true, force: true });
  return undefined;
}
