// The real hub stack on a sandbox control plane: ACM's governance-policy-propagator, OCM's
// placement controller and addon-manager, the PlacementRule controller and TALM on the hub; per
// spoke the governance framework addon, config-policy-controller and OCM's work agent. What the
// generator writes is then carried out by the controllers that consume it on a real hub.
import { request as httpsRequest } from "node:https";
import { KubeApi } from "../../addon/shared/kube.js";
import { loadKubeconfig } from "../../addon/shared/kubeconfig.js";
import type { ControlPlane } from "./controlplane.js";
import { ensureHubStackBinaries, type HubStackBinaries } from "./hubstack-build.js";
import { freePort, httpOk, type ManagedProcess } from "./process.js";

/** The namespace OCM's hub controllers run in (`--namespace`). */
export const OCM_HUB_NAMESPACE = "open-cluster-management-hub";
/** The namespace the framework addon and config-policy-controller use on a spoke. */
export const ADDON_AGENT_NAMESPACE = "open-cluster-management-agent-addon";
/** The namespace OCM's work agent uses on a spoke. */
export const WORK_AGENT_NAMESPACE = "open-cluster-management-agent";
/** Every cluster is in ACM's `global` ManagedClusterSet (a label selector matching all). */
export const GLOBAL_CLUSTER_SET = "global";

export interface HubStackOptions {
  readonly cp: ControlPlane;
  /** The hub's cluster name in `cp`. @default "hub" */
  readonly hub?: string;
  /** Spokes to register as ManagedClusters and run the spoke controllers for. */
  readonly spokes: readonly string[];
  /** Labels a spoke's ManagedCluster carries besides name, clusterset and ztp-done. */
  readonly clusterLabels?: (spoke: string) => Record<string, string>;
  /** Progress lines. @default silence */
  readonly log?: (line: string) => void;
  /** Prebuilt binaries. @default ensureHubStackBinaries() (cache, else a Go build) */
  readonly binaries?: HubStackBinaries;
}

interface Proc {
  readonly name: string;
  readonly process: ManagedProcess;
}

/**
 * Starts the hub stack on a running control plane whose clusters already have the hub and spoke
 * CRD sets installed (src/sandbox/crds.ts). Spokes are registered the way OCM's registration
 * leaves them (see registerManagedCluster: the harness writes it; no registration agent runs).
 * Everything it starts belongs to the control plane: stopped by cp.stop(), ended by its watchdog.
 */
export class HubStack {
  private readonly procs: Proc[] = [];
  readonly hub: string;
  readonly hubApi: KubeApi;

  private constructor(
    private readonly opts: HubStackOptions,
    readonly binaries: HubStackBinaries,
  ) {
    this.hub = opts.hub ?? "hub";
    this.hubApi = new KubeApi(loadKubeconfig(opts.cp.cluster(this.hub).info.kubeconfig));
  }

  static async start(opts: HubStackOptions): Promise<HubStack> {
    const log = opts.log ?? ((): void => {});
    const binaries = opts.binaries ?? (await ensureHubStackBinaries({ log }));
    const stack = new HubStack(opts, binaries);
    const started = Date.now();
    await stack.prepareHub();
    await Promise.all(opts.spokes.map(s => stack.registerManagedCluster(s)));
    await Promise.all([stack.startHubControllers(), ...opts.spokes.map(s => stack.addSpoke(s))]);
    log(`hub stack up in ${((Date.now() - started) / 1000).toFixed(1)} s (${binaries.source})`);
    return stack;
  }

  /** Name and PID of every process of the stack, for benchmarks and leak checks. */
  processes(): Array<{ name: string; pid: number }> {
    return this.procs.map(p => ({ name: p.name, pid: p.process.pid }));
  }

  /** The log path of a process by name (e.g. "talm", "config-policy-controller/spoke-1"). */
  logOf(name: string): string {
    const p = this.procs.find(x => x.name === name);
    if (!p) throw new Error(`no hub-stack process ${name}`);
    return p.process.logPath;
  }

  private kubeconfig(cluster: string): string {
    return this.opts.cp.cluster(cluster).info.kubeconfig;
  }

  private async prepareHub(): Promise<void> {
    const api = this.hubApi;
    for (const name of [OCM_HUB_NAMESPACE, "open-cluster-management"])
      await api.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    // ACM's two default sets: `default` by label, `global` selecting every cluster.
    await api.apply({
      apiVersion: "cluster.open-cluster-management.io/v1beta2",
      kind: "ManagedClusterSet",
      metadata: { name: "default" },
      spec: { clusterSelector: { selectorType: "ExclusiveClusterSetLabel" } },
    });
    await api.apply({
      apiVersion: "cluster.open-cluster-management.io/v1beta2",
      kind: "ManagedClusterSet",
      metadata: { name: GLOBAL_CLUSTER_SET },
      spec: { clusterSelector: { selectorType: "LabelSelector", labelSelector: {} } },
    });
  }

  /** Registers one spoke (see registerManagedCluster). */
  registerManagedCluster(name: string): Promise<void> {
    return registerManagedCluster(this.hubApi, name, this.opts.clusterLabels?.(name));
  }

  private async startHubControllers(): Promise<void> {
    const hub = this.kubeconfig(this.hub);
    const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
      ...process.env,
      KUBECONFIG: hub,
      ...extra,
    });
    await Promise.all([
      this.controllerRuntime("governance-policy-propagator", [], env({ WATCH_NAMESPACE: "" }), [
        "--leader-elect=false",
        "--enable-webhooks=false",
      ]),
      this.ocm("placement", [
        "controller",
        `--kubeconfig=${hub}`,
        `--namespace=${OCM_HUB_NAMESPACE}`,
      ]),
      this.ocm("addon", ["manager", `--kubeconfig=${hub}`, `--namespace=${OCM_HUB_NAMESPACE}`]),
      // Upstream hard-codes its metrics address to 0.0.0.0:8383; our wrapper's main
      // (src/sandbox/go/placementrule/main.go) takes it from the environment instead.
      this.run("placementrule", "placementrule", env(), async () => {
        const port = await freePort();
        return {
          args: [`--kubeconfig=${hub}`],
          env: { PLACEMENTRULE_METRICS_BIND_ADDRESS: `127.0.0.1:${port}` },
          ready: () => httpOk(`http://127.0.0.1:${port}/metrics`),
        };
      }),
      this.controllerRuntime(
        "talm",
        [],
        env({
          // Images TALM would run on spokes for precaching, backup and recovery; none runs here.
          PRECACHE_IMG: "quay.invalid/talm/precache:sandbox",
          RECOVERY_IMG: "quay.invalid/talm/recovery:sandbox",
          AZTP_IMG: "quay.invalid/talm/aztp:sandbox",
        }),
        ["--skip-tls-profile", "--leader-elect=false"],
      ),
    ]);
  }

  /** Per spoke: namespaces, the framework addon, config-policy-controller and the work agent. */
  async addSpoke(spoke: string): Promise<void> {
    const hub = this.kubeconfig(this.hub);
    const kc = this.kubeconfig(spoke);
    const spokeApi = new KubeApi(loadKubeconfig(kc));
    for (const name of [spoke, ADDON_AGENT_NAMESPACE, WORK_AGENT_NAMESPACE])
      await spokeApi.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    await Promise.all([
      this.controllerRuntime(
        "governance-policy-framework-addon",
        [spoke],
        { ...process.env, KUBECONFIG: kc, OSDK_FORCE_RUN_MODE: "local" },
        [
          "--leader-elect=false",
          `--cluster-namespace=${spoke}`,
          `--hub-cluster-configfile=${hub}`,
          `--managed-cluster-configfile=${kc}`,
          "--disable-gatekeeper-sync",
        ],
      ),
      this.controllerRuntime(
        "config-policy-controller",
        [spoke],
        { ...process.env, KUBECONFIG: kc, WATCH_NAMESPACE: spoke },
        ["controller", "--leader-elect=false", `--cluster-name=${spoke}`],
      ),
      this.ocm(
        "work",
        [
          "agent",
          `--spoke-cluster-name=${spoke}`,
          `--hub-kubeconfig=${hub}`,
          "--workload-source-driver=kube",
          `--workload-source-config=${hub}`,
          `--kubeconfig=${kc}`,
          `--spoke-kubeconfig=${kc}`,
          `--namespace=${WORK_AGENT_NAMESPACE}`,
          `--agent-id=sandbox-${spoke}`,
        ],
        spoke,
      ),
    ]);
  }

  /** A controller-runtime manager: metrics and probes on loopback, ready when /readyz says so. */
  private async controllerRuntime(
    bin:
      | "governance-policy-propagator"
      | "config-policy-controller"
      | "governance-policy-framework-addon"
      | "talm",
    where: string[],
    env: NodeJS.ProcessEnv,
    args: string[],
  ): Promise<void> {
    await this.run([bin, ...where].join("/"), bin, env, async () => {
      const [metrics, probe] = [await freePort(), await freePort()];
      return {
        args: [
          ...args,
          `--metrics-bind-address=127.0.0.1:${metrics}`,
          `--health-probe-bind-address=127.0.0.1:${probe}`,
        ],
        ready: () => httpOk(`http://127.0.0.1:${probe}/readyz`),
      };
    });
  }

  /** An OCM (library-go) controller: serves HTTPS on loopback, ready when /healthz answers 200. */
  private async ocm(
    bin: "placement" | "work" | "addon",
    args: string[],
    where?: string,
  ): Promise<void> {
    await this.run([bin, ...(where ? [where] : [])].join("/"), bin, process.env, async () => {
      const port = await freePort();
      return {
        args: [...args, "--disable-leader-election", `--listen=127.0.0.1:${port}`],
        ready: () => httpsOk(`https://127.0.0.1:${port}/healthz`),
      };
    });
  }

  /**
   * Starts one process of the stack and waits until it is ready. `launch` picks its ports and
   * says how to tell it is ready; a port taken between choosing and binding (by another
   * process of the stack, or an outgoing connection's ephemeral port) makes it try new ones.
   */
  private async run(
    name: string,
    bin: Parameters<HubStackBinaries["path"]>[0],
    env: NodeJS.ProcessEnv,
    launch: () => Promise<{
      args: string[];
      env?: NodeJS.ProcessEnv;
      ready: () => Promise<boolean>;
    }>,
  ): Promise<void> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      const { args, env: more, ready } = await launch();
      try {
        const process = await this.opts.cp.startProcess({
          name,
          logName: name.replace(/\//g, "-"),
          command: this.binaries.path(bin),
          args,
          env: { ...env, ...more },
          ready: () => ready(),
          timeoutMs: 120_000,
        });
        this.procs.push({ name, process });
        this.opts.log?.(`${name} ready in ${Date.now() - started} ms`);
        return;
      } catch (err) {
        if (attempt >= 5 || !/address already in use/.test((err as Error).message)) throw err;
      }
    }
  }
}

/**
 * Writes what OCM's registration leaves for an accepted, joined, available cluster: the
 * cluster namespace on the hub, the ManagedCluster with ACM's `name` and clusterset labels
 * (and `ztp-done`, as ZTP leaves installed clusters, so TALM's ztp-install controller skips
 * it), and the HubAcceptedManagedCluster, ManagedClusterJoined and
 * ManagedClusterConditionAvailable conditions. No registration agent runs: it would need
 * bootstrap kubeconfigs and lease renewal for no behaviour the tests look at.
 */
export async function registerManagedCluster(
  api: KubeApi,
  name: string,
  labels: Record<string, string> = {},
): Promise<void> {
  await api.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  const path = `/apis/cluster.open-cluster-management.io/v1/managedclusters/${name}`;
  await api.apply({
    apiVersion: "cluster.open-cluster-management.io/v1",
    kind: "ManagedCluster",
    metadata: {
      name,
      labels: {
        name,
        "cluster.open-cluster-management.io/clusterset": "default",
        "ztp-done": "",
        ...labels,
      },
    },
    spec: { hubAcceptsClient: true, leaseDurationSeconds: 60 },
  });
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const condition = (type: string, reason: string, message: string): object => ({
    type,
    status: "True",
    reason,
    message,
    lastTransitionTime: now,
  });
  await api.mergePatch(`${path}/status`, {
    status: {
      conditions: [
        condition(
          "HubAcceptedManagedCluster",
          "HubClusterAdminAccepted",
          "Accepted by hub cluster admin",
        ),
        condition("ManagedClusterJoined", "ManagedClusterJoined", "Managed cluster joined"),
        condition(
          "ManagedClusterConditionAvailable",
          "ManagedClusterAvailable",
          "Managed cluster is available",
        ),
      ],
      version: { kubernetes: "v1.34.0" },
    },
  });
}

/** The OCM controllers serve a self-signed certificate on loopback: readiness only, no data. */
function httpsOk(url: string): Promise<boolean> {
  return new Promise(resolve => {
    const req = httpsRequest(url, { rejectUnauthorized: false, timeout: 2000 }, res => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}
