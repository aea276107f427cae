// A sandboxed single-node cluster for agent tests and the demo: a real ostree sysroot and an
// apiserver, with the agent running in-process. When the agent "reboots", the harness powers
// the node on into its default deployment, gives the apiserver a fresh IBU state (on a real
// pivot the API state becomes the seed's), and starts the agent again.
import { Agent } from "../../addon/agent/agent.js";
import { IBU_PATH } from "../../addon/agent/controller.js";
import { SandboxBoot, sandboxPowerOn } from "../../addon/agent/drivers/boot.js";
import { Node } from "../../addon/agent/node.js";
import { HubReporter } from "../../addon/agent/report.js";
import type { KubeApi } from "../../addon/shared/kube.js";
import type { TestSysroot } from "./sysroot.js";

export class SandboxNode {
  private abort = new AbortController();
  private running: Promise<void> = Promise.resolve();
  private rebootPending: Promise<void> | undefined;
  reboots = 0;

  constructor(
    readonly sysroot: TestSysroot,
    readonly api: KubeApi,
    private readonly opts: {
      insecureRegistries: string[];
      imageStoreRoot: string;
      log?: (l: string) => void;
      /**
       * Runs while the node is "off", before it boots again (tests tamper with disks, or the
       * cluster, here); the node boots once what it returns has settled.
       */
      whileOff?: (reboot: number) => void | Promise<void>;
      /** Report to this hub as this cluster, as the addon's agent does. */
      hub?: { api: KubeApi; clusterName: string };
      /** etcd executable, for seeds that carry etcd data (the control plane's own). */
      etcdBinary?: string;
      /** How long finalize, cancel and the stale-Backup cleanup wait for Velero to delete backups. @default 300 */
      backupDeletionTimeoutSeconds?: number;
    },
  ) {}

  start(): void {
    this.abort = new AbortController();
    const boot = new SandboxBoot(this.sysroot.dir, () => {
      this.rebootPending = this.powerCycle();
    });
    const node = new Node({
      ostree: this.sysroot.ostree,
      boot,
      insecureRegistries: this.opts.insecureRegistries,
      imageStoreRoot: this.opts.imageStoreRoot,
      ...(this.opts.etcdBinary ? { etcdBinary: this.opts.etcdBinary } : {}),
    });
    const { hub, log } = this.opts;
    const reporter =
      hub && new HubReporter({ hub: hub.api, clusterName: hub.clusterName, node, log });
    this.running = new Agent({
      api: this.api,
      node,
      resyncSeconds: 2,
      log,
      reporter,
      backupDeletionTimeoutSeconds: this.opts.backupDeletionTimeoutSeconds,
    }).run(this.abort.signal);
  }

  /** The agent asked for a reboot: stop it, boot the default deployment, start it again. */
  private async powerCycle(): Promise<void> {
    this.abort.abort();
    await this.running;
    await this.opts.whileOff?.(this.reboots + 1);
    sandboxPowerOn(this.sysroot.dir);
    await this.api.delete(`${IBU_PATH}/upgrade`);
    this.reboots++;
    this.opts.log?.(`[sandbox] rebooted into ${this.sysroot.ostree.deployments()[0]?.stateroot}`);
    this.start();
  }

  async stop(): Promise<void> {
    await this.rebootPending;
    this.abort.abort();
    await this.running;
  }
}
