// The cluster's own values that LCA has recert write into the seed's etcd before the new
// stateroot boots: the kubeadmin password hash, the install-config and the infra ID. Written
// into the stored objects of the seed's etcd offline, so the apiserver never starts with the
// seed's password.
import type { EtcdClient } from "./etcd.js";
import { decodeStored, rewriteStored } from "./kproto.js";

/** What of the cluster goes into the seed's etcd (LCA's seed reconfiguration fields). */
export interface EtcdCarry {
  /**
   * `kube-system/kubeadmin`'s `kubeadmin` value (a bcrypt hash). `""`: the cluster has none
   * (it was removed, as OpenShift documents), so the seed's Secret is deleted too.
   */
  readonly kubeadmin_password_hash: string;
  /**
   * `kube-system/cluster-config-v1`'s `install-config`. Absent: the cluster has no such
   * ConfigMap (not OpenShift; LCA fails then), and the seed's is left as it is.
   */
  readonly install_config?: string;
  /**
   * Infrastructure `cluster`'s `status.infrastructureName`. Absent: the cluster does not serve
   * Infrastructure (not OpenShift), and the seed's is left as it is.
   */
  readonly infra_id?: string;
}

/** The seed's etcd lacks an object the cluster's values go into: the Upgrade must not go on. */
export class EtcdCarryError extends Error {}

const KUBEADMIN = "secrets/kube-system/kubeadmin";
const INFRASTRUCTURE = "config.openshift.io/infrastructures/cluster";
/** recert writes the install-config into both copies OpenShift keeps. */
const INSTALL_CONFIGS = [
  "configmaps/kube-system/cluster-config-v1",
  "configmaps/openshift-etcd/cluster-config-v1",
];

/**
 * Writes `carry` into the seed's etcd, as recert's set_kubeadmin_password_hash and
 * install_config_rename do (rh-ecosystem-edge/recert, src/ocp_postprocess.rs): the hash into
 * `kube-system/kubeadmin` (`""`: that Secret deleted), the install-config into both
 * `cluster-config-v1` ConfigMaps, the infra ID into Infrastructure `cluster`'s status. Objects
 * are found by the end of their etcd key, whatever the apiserver's `--etcd-prefix`. Idempotent.
 * Throws EtcdCarryError, naming the object, when the seed has no object to write into (recert
 * fails the same way: creating them is not its job).
 */
export async function carryIntoEtcd(etcd: EtcdClient, carry: EtcdCarry): Promise<void> {
  const keys = await etcd.keys();
  const keyOf = (suffix: string): Buffer | undefined =>
    keys.find(k => k.toString("utf8").endsWith(`/${suffix}`));
  const kubeadmin = keyOf(KUBEADMIN);
  if (carry.kubeadmin_password_hash === "") {
    if (kubeadmin) await etcd.delete(kubeadmin);
  } else await setValue(etcd, kubeadmin, KUBEADMIN, "kubeadmin", carry.kubeadmin_password_hash);
  if (carry.install_config !== undefined)
    for (const suffix of INSTALL_CONFIGS)
      await setValue(etcd, keyOf(suffix), suffix, "install-config", carry.install_config);
  if (carry.infra_id !== undefined) await setInfraId(etcd, keyOf(INFRASTRUCTURE), carry.infra_id);
}

/**
 * Only Infrastructure's `status.infrastructureName`: recert's cluster rename also rewrites the
 * names built from the infra ID in other objects, which this pass does not (docs/decisions.md).
 * A custom resource is stored as JSON.
 */
async function setInfraId(
  etcd: EtcdClient,
  key: Buffer | undefined,
  infraId: string,
): Promise<void> {
  const stored = key && (await etcd.get(key));
  let obj: { status?: Record<string, unknown> } | undefined;
  try {
    obj = stored ? (JSON.parse(stored.toString("utf8")) as typeof obj) : undefined;
  } catch {
    obj = undefined;
  }
  if (!obj) throw new EtcdCarryError(`couldn't find ${INFRASTRUCTURE} in the seed's etcd`);
  if (obj.status?.infrastructureName === infraId) return;
  obj.status = { ...obj.status, infrastructureName: infraId };
  await etcd.put(key!, Buffer.from(`${JSON.stringify(obj)}\n`, "utf8"));
}

/** One `data` entry of a stored Secret or ConfigMap set to `value`. */
async function setValue(
  etcd: EtcdClient,
  key: Buffer | undefined,
  what: string,
  entry: string,
  value: string,
): Promise<void> {
  const stored = key && (await etcd.get(key));
  // Every seed OpenShift makes has the entry; a seed without it is not one to carry into.
  const has =
    stored && decodeStored(stored)?.entries.some(e => e.map === "data" && e.key === entry);
  if (!has) throw new EtcdCarryError(`couldn't find ${what} (data.${entry}) in the seed's etcd`);
  const bytes = Buffer.from(value, "utf8");
  const next = rewriteStored(stored, e =>
    e.map === "data" && e.key === entry ? bytes : undefined,
  );
  if (!next.equals(stored)) await etcd.put(key, next);
}
