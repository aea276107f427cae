// The agent as a separate process on a sandbox node, supervised like systemd would: whenever
// it exits it is started again, and when it exited to reboot, the node is powered on into its
// default deployment with a fresh API state first (on a real pivot the API state is the seed's).
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, openSync, closeSync } from "node:fs";
import { join } from "node:path";
import { IBU_PATH } from "../../addon/agent/controller.js";
import { SandboxBoot, sandboxPowerOn } from "../../addon/agent/drivers/boot.js";
import type { KubeApi } from "../../addon/shared/kube.js";

const MAIN = join(import.meta.dirname, "..", "..", "src", "cli", "main.ts");

export class AgentProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  private exited: Promise<void> = Promise.resolve();
  starts = 0;
  reboots = 0;
  /** What the whileOff hook threw, if it did (the node boots anyway). */
  whileOffError: Error | undefined;

  constructor(
    private readonly args: {
      kubeconfig: string;
      sysroot: string;
      insecureRegistries: string[];
      imageStore: string;
      logFile: string;
      /** Run this compiled entry point (dist/src/cli/main.js) instead of the source through tsx. */
      compiledMain?: string;
      /** etcd executable (--etcd), for seeds that carry etcd data. */
      etcd?: string;
      /**
       * Runs while the node is "off" for a reboot, before it boots again (the seed's API state
       * stands in here); `reboot` counts from 1.
       */
      whileOff?: (reboot: number) => Promise<void>;
    },
    private readonly api: KubeApi,
  ) {}

  start(): void {
    const a = this.args;
    const fd = openSync(a.logFile, "a");
    const argv = [
      ...(a.compiledMain ? [a.compiledMain] : ["--import", "tsx", MAIN]),
      "agent",
      "--kubeconfig",
      a.kubeconfig,
      "--sysroot",
      a.sysroot,
      "--boot",
      "sandbox",
      "--image-store",
      a.imageStore,
      ...a.insecureRegistries.flatMap(r => ["--insecure-registry", r]),
      ...(a.etcd ? ["--etcd", a.etcd] : []),
    ];
    this.child = spawn(process.execPath, argv, { stdio: ["ignore", fd, fd] });
    closeSync(fd);
    this.starts++;
    const child = this.child;
    this.exited = new Promise(resolve => child.once("exit", () => resolve()));
    void this.exited.then(() => this.onExit(child));
  }

  private async onExit(child: ChildProcess): Promise<void> {
    if (child !== this.child || this.stopping) return;
    if (existsSync(SandboxBoot.rebootMarker(this.args.sysroot))) {
      await this.args.whileOff?.(this.reboots + 1).catch((err: unknown) => {
        this.whileOffError = err as Error;
      });
      sandboxPowerOn(this.args.sysroot);
      await this.api.delete(`${IBU_PATH}/upgrade`);
      this.reboots++;
    }
    if (!this.stopping) this.start();
  }

  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  /** SIGKILL, as a crash would; the supervisor starts it again. */
  kill(): boolean {
    if (!this.child || this.child.exitCode !== null) return false;
    return this.child.kill("SIGKILL");
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.child?.kill("SIGTERM");
    const timer = setTimeout(() => this.child?.kill("SIGKILL"), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}
