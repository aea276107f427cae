// `ibu-gitops agent`: the spoke agent. On a node it runs in the addon's privileged pod with the
// host's /sysroot; in tests and the demo it runs against a sandbox sysroot, where a reboot ends
// the process and the harness powers the node on into its default deployment.
import { Agent } from "../../addon/agent/agent.js";
import { HostBoot, SandboxBoot, type BootDriver } from "../../addon/agent/drivers/boot.js";
import { OstreeDriver } from "../../addon/agent/drivers/ostree.js";
import { Node } from "../../addon/agent/node.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { inClusterCredentials, loadKubeconfig } from "../../addon/shared/kubeconfig.js";
import { parseLogLevel, processLogger, type Logger } from "../../addon/shared/log.js";
import { HubReporter } from "../../addon/agent/report.js";
import { kubeconfigPath, UsageError } from "./common.js";
import { shutdownSignal } from "./signals.js";

export interface AgentArgs {
  readonly kubeconfig?: string;
  readonly sysroot: string;
  readonly boot: string;
  readonly insecureRegistries: readonly string[];
  readonly imageStore?: string;
  readonly namespace?: string;
  /** The addon's hub kubeconfig (ACM mounts it at /managed/hub-kubeconfig/kubeconfig). */
  readonly hubKubeconfig?: string;
  /** The ManagedCluster's name: the hub namespace the report goes to. */
  readonly clusterName?: string;
  /** etcd executable for regenerating the crypto a seed keeps in etcd. */
  readonly etcd?: string;
}

/**
 * Runs the agent until SIGINT/SIGTERM; resolves to the exit code. Logs JSON lines to stderr at
 * the level `LOG_LEVEL` names (default info; an unknown level fails before anything starts).
 */
export async function runAgent(
  a: AgentArgs,
  log: Logger = processLogger("ibu-gitops-agent", parseLogLevel(process.env.LOG_LEVEL)),
): Promise<number> {
  if (a.boot !== "host" && a.boot !== "sandbox")
    throw new UsageError(`--boot must be host or sandbox, not ${JSON.stringify(a.boot)}`);
  const file = a.kubeconfig ?? process.env.KUBECONFIG;
  // In the addon's pod: its ServiceAccount; elsewhere a kubeconfig is required.
  const kc = file ? loadKubeconfig(kubeconfigPath(file)) : inClusterCredentials();
  const hubFile = a.hubKubeconfig ?? process.env.HUB_KUBECONFIG;
  const clusterName = a.clusterName ?? process.env.CLUSTER_NAME;
  if (!!hubFile !== !!clusterName)
    throw new UsageError(
      "--hub-kubeconfig (HUB_KUBECONFIG) and --cluster-name (CLUSTER_NAME) go together: the agent reports to the hub only with both",
    );
  const boot: BootDriver = a.boot === "host" ? new HostBoot() : new SandboxBoot(a.sysroot);
  const node = new Node({
    ostree: new OstreeDriver(a.sysroot),
    boot,
    insecureRegistries: a.insecureRegistries,
    ...(a.imageStore ? { imageStoreRoot: a.imageStore } : {}),
    ...(a.etcd ? { etcdBinary: a.etcd } : {}),
    identity: { nodeIps: process.env.NODE_IP ? [process.env.NODE_IP] : undefined },
  });
  const signal = shutdownSignal();
  const booted = node.booted().stateroot;
  log.info(
    { sysroot: a.sysroot, boot: a.boot, booted },
    `agent starting: sysroot ${a.sysroot}, boot ${a.boot}, booted ${booted}`,
  );
  const reporter =
    hubFile && clusterName
      ? new HubReporter({
          hub: new KubeApi(loadKubeconfig(hubFile)),
          clusterName,
          node,
          log,
        })
      : undefined;
  if (reporter)
    log.info({ cluster: clusterName }, `reporting to the hub as cluster ${clusterName}`);
  await new Agent({
    api: new KubeApi(kc),
    node,
    namespace: a.namespace,
    log,
    reporter,
  }).run(signal);
  log.info("agent stopped");
  return 0;
}
