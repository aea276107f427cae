// LCA's cluster health checks (internal/healthcheck), with LCA's messages. Mandatory: every
// ClusterOperator available and neither progressing nor degraded, every MachineConfigPool with
// all its machines ready, the ClusterVersion available, and (once the operators are ready)
// SR-IOV node states synced and, when OADP's DataProtectionApplication is reconciled, its
// BackupStorageLocations available.
// Deferred: the node ready, every ClusterServiceVersion succeeded (LCA's own skipped), every
// CertificateSigningRequest approved. LCA assumes OpenShift, where all these kinds exist; a
// kind the cluster does not serve is skipped here (plain Kubernetes serves none of the
// OpenShift ones), so the checks hold wherever the kinds are there.
import { ApiError, type KubeApi } from "../shared/kube.js";

export type HealthScope = "all" | "mandatory" | "deferred";

interface Cond {
  type?: string;
  status?: string;
}
interface Obj {
  metadata: { name: string; labels?: Record<string, string> };
  status?: Record<string, unknown> & { conditions?: Cond[] };
}

const OADP_NS = "openshift-adp";

/** Items of a collection, or undefined when the cluster does not serve the kind. */
export async function listIfServed<T = Obj>(
  api: KubeApi,
  collection: string,
): Promise<T[] | undefined> {
  try {
    return await api.list<T>(collection);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** Whether condition `type` is True (LCA: an absent condition reads as not True). */
const isTrue = (o: Obj, type: string): boolean =>
  o.status?.conditions?.find(c => c.type === type)?.status === "True";

/** Runs one check: its failure message, or undefined when it passed (or does not apply). */
type Check = (api: KubeApi) => Promise<string | undefined>;

const listFailure = (what: string, err: unknown): string =>
  `failed to get ${what} list: ${(err as Error).message}`;

async function guarded(
  what: string,
  fn: () => Promise<string | undefined>,
): Promise<string | undefined> {
  try {
    return await fn();
  } catch (err) {
    return listFailure(what, err);
  }
}

export const clusterOperatorsReady: Check = api =>
  guarded("co", async () => {
    const cos = await listIfServed(api, "/apis/config.openshift.io/v1/clusteroperators");
    const notReady = (cos ?? [])
      .filter(co => !isTrue(co, "Available") || isTrue(co, "Progressing") || isTrue(co, "Degraded"))
      .map(co => co.metadata.name);
    return notReady.length
      ? `one or more ClusterOperators not yet ready: ${notReady.join(", ")}`
      : undefined;
  });

/** LCA: the ClusterVersion Available (the first that is not fails the check). */
export const clusterVersionReady: Check = api =>
  guarded("cv", async () => {
    const cvs = await listIfServed(api, "/apis/config.openshift.io/v1/clusterversions");
    const down = (cvs ?? []).find(cv => !isTrue(cv, "Available"));
    return down ? `clusterVersion ${down.metadata.name} not ready` : undefined;
  });

export const machineConfigPoolsReady: Check = api =>
  guarded("mcp", async () => {
    const pools = await listIfServed(
      api,
      "/apis/machineconfiguration.openshift.io/v1/machineconfigpools",
    );
    const notReady = (pools ?? [])
      .filter(p => (p.status?.machineCount ?? 0) !== (p.status?.readyMachineCount ?? 0))
      .map(p => p.metadata.name);
    return notReady.length
      ? `one or more MachineConfigPools not yet ready: ${notReady.join(", ")}`
      : undefined;
  });

export const sriovNetworkNodeStatesReady: Check = async api => {
  try {
    const states = await listIfServed(
      api,
      "/apis/sriovnetwork.openshift.io/v1/sriovnetworknodestates",
    );
    if (!states) return undefined;
    if (!states.length) return "no SriovNetworkNodeStates present";
    return states.every(s => s.status?.syncStatus === "Succeeded")
      ? undefined
      : "sriovNetworkNodeState not ready";
  } catch (err) {
    return `failed to get SriovNetworkNodeStates: ${(err as Error).message}`;
  }
};

/** When OADP's DataProtectionApplication is reconciled, its BackupStorageLocations are available. */
export const oadpStorageReady: Check = async api => {
  let dpas: Obj[] | undefined;
  try {
    dpas = await listIfServed(
      api,
      `/apis/oadp.openshift.io/v1alpha1/namespaces/${OADP_NS}/dataprotectionapplications`,
    );
  } catch (err) {
    return `failed to list OADP DataProtectionApplication: ${(err as Error).message}`;
  }
  if (!dpas?.length) return undefined;
  if (!dpas.some(d => isTrue(d, "Reconciled"))) return "dataProtectionApplication not reconciled";
  let bsls: Obj[];
  try {
    bsls = await api.list<Obj>(`/apis/velero.io/v1/namespaces/${OADP_NS}/backupstoragelocations`);
  } catch (err) {
    return `failed to list BackupStorageLocations: ${(err as Error).message}`;
  }
  if (!bsls.length) return "backupsStorageLocations not yet created";
  const down = bsls.find(b => b.status?.phase !== "Available");
  return down ? `backupStorageLocation ${down.metadata.name} not available` : undefined;
};

const SNO_ROLES = [
  "node-role.kubernetes.io/control-plane",
  "node-role.kubernetes.io/master",
  "node-role.kubernetes.io/worker",
];

/**
 * LCA checks the node only on a single-node OpenShift (Infrastructure topology SingleReplica),
 * and there also that it carries the three SNO role labels. Where Infrastructure is not served
 * (plain Kubernetes) every node is checked for Ready and network, without the role labels.
 */
export const nodeReady: Check = async api => {
  let sno = false;
  try {
    const infras = await listIfServed(api, "/apis/config.openshift.io/v1/infrastructures");
    if (infras) {
      const cluster = infras.find(i => i.metadata.name === "cluster");
      if (!cluster) return `failed to get infrastucture CR: infrastructures "cluster" not found`;
      if (cluster.status?.infrastructureTopology !== "SingleReplica") return undefined;
      sno = true;
    }
  } catch (err) {
    return `failed to get infrastucture CR: ${(err as Error).message}`;
  }
  return guarded("node", async () => {
    for (const node of (await listIfServed(api, "/api/v1/nodes")) ?? []) {
      const name = node.metadata.name;
      if (!isTrue(node, "Ready")) return `node is not yet ready: ${name}`;
      if (isTrue(node, "NetworkUnavailable")) return `node network unavailable: ${name}`;
      const missing = sno ? SNO_ROLES.find(l => !(l in (node.metadata.labels ?? {}))) : undefined;
      if (missing) return `node missing ${missing} label: ${name}`;
    }
    return undefined;
  });
};

export const clusterServiceVersionsReady: Check = api =>
  guarded("csv", async () => {
    const csvs = await listIfServed(
      api,
      "/apis/operators.coreos.com/v1alpha1/clusterserviceversions",
    );
    const notReady = (csvs ?? [])
      .filter(c => !c.metadata.name.includes("lifecycle-agent"))
      .filter(c => c.status?.phase !== "Succeeded")
      .map(c => c.metadata.name);
    return notReady.length
      ? `one or more ClusterServiceVersions not yet ready: ${notReady.join(", ")}`
      : undefined;
  });

export const certificateSigningRequestsApproved: Check = api =>
  guarded("csr", async () => {
    const csrs = await listIfServed(api, "/apis/certificates.k8s.io/v1/certificatesigningrequests");
    const pending = (csrs ?? []).find(c => !isTrue(c, "Approved"));
    return pending
      ? `certificateSigningRequest (csr) ${pending.metadata.name} not yet approved`
      : undefined;
  });

async function mandatory(api: KubeApi): Promise<string[]> {
  const failures: string[] = [];
  const co = await clusterOperatorsReady(api);
  if (co) failures.push(co);
  const mcp = await machineConfigPoolsReady(api);
  if (mcp) failures.push(mcp);
  const cv = await clusterVersionReady(api);
  if (cv) failures.push(cv);
  // LCA looks at SR-IOV and OADP storage only once the cluster operators are ready.
  if (!co) {
    for (const check of [sriovNetworkNodeStatesReady, oadpStorageReady]) {
      const failure = await check(api);
      if (failure) failures.push(failure);
    }
  }
  return failures;
}

async function deferred(api: KubeApi): Promise<string[]> {
  const failures: string[] = [];
  for (const check of [
    nodeReady,
    clusterServiceVersionsReady,
    certificateSigningRequestsApproved,
  ]) {
    const failure = await check(api);
    if (failure) failures.push(failure);
  }
  return failures;
}

/**
 * LCA's health checks of `scope` ("all" is mandatory then deferred, as Prep, pre-pivot and
 * finalize run them): undefined when healthy, otherwise LCA's combined message.
 */
export async function healthChecks(api: KubeApi, scope: HealthScope): Promise<string | undefined> {
  const failures = [
    ...(scope !== "deferred" ? await mandatory(api) : []),
    ...(scope !== "mandatory" ? await deferred(api) : []),
  ];
  return failures.length
    ? `one or more health checks failed: ${failures.join("\n  - ")}`
    : undefined;
}

/**
 * Health checks with a memory: within one stage (`context`, e.g. "Upgrade:after-pivot"), a
 * result is reused for `intervalMs`, so a stage that waits and is run again every second does
 * not query the cluster each time (LCA re-checks every 20 s). A new stage always checks afresh.
 */
export class HealthGate {
  private readonly last = new Map<HealthScope, { at: number; result: string | undefined }>();

  constructor(
    private readonly api: KubeApi,
    private readonly intervalMs = 5000,
  ) {}

  private context = "";

  async check(scope: HealthScope, context = ""): Promise<string | undefined> {
    if (context !== this.context) {
      this.last.clear();
      this.context = context;
    }
    const prev = this.last.get(scope);
    if (prev && Date.now() - prev.at < this.intervalMs) return prev.result;
    const result = await healthChecks(this.api, scope);
    this.last.set(scope, { at: Date.now(), result });
    return result;
  }
}
