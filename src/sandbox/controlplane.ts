// Real Kubernetes control planes for tests: one etcd and one kube-apiserver per named cluster
// (hub, spoke-1, ...), isolated from each other by etcd key prefix, on free loopback ports, with
// generated certificates, RBAC authorization and an admin kubeconfig per cluster.
import { spawn } from "node:child_process";
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, isAbsolute, join } from "node:path";
import { packageRoot } from "../package-root.js";
import { TinyCa } from "./certs.js";
import { ensureControlPlaneBinaries, type ControlPlaneBinaries } from "./controlplane-build.js";
import { ManagedProcess, freePort, httpOk, sleep } from "./process.js";
import { TestCluster, type ClusterInfo, writeKubeconfig } from "./cluster.js";

// reaper.sh is not compiled: from the package root, so dist/ finds it too.
const HERE = join(packageRoot(), "src", "sandbox");
// How long one apiserver or etcd may take to answer. Generous: at load 20 on 2 cores an apiserver
// took over 60 s, and waiting longer costs nothing when it is healthy.
const START_TIMEOUT_MS = Number(process.env.IBU_GITOPS_CONTROLPLANE_START_TIMEOUT_MS ?? 180_000);
const PORT_ATTEMPTS = 5;

/** Everything a test worker needs to reach the clusters; plain data, passed between processes. */
export interface ControlPlaneInfo {
  readonly root: string;
  readonly etcdUrl: string;
  readonly binaries: ControlPlaneBinaries;
  readonly clusters: readonly ClusterInfo[];
}

export interface StartOptions {
  /** Names of the clusters to start, e.g. ["hub", "spoke-1", "spoke-2"]. */
  readonly clusters: readonly string[];
  /** Progress lines (defaults to silence). */
  readonly log?: (line: string) => void;
  /** Source of ports to try; defaults to asking the kernel for a free one. */
  readonly ports?: () => Promise<number>;
  /**
   * etcd's data folder, when it should outlive the control plane (a seed stateroot's
   * /var/lib/etcd, say): kept on stop. Default: a folder inside the control plane's own.
   */
  readonly etcdDataDir?: string;
  /**
   * Also run a kube-controller-manager per cluster (garbage collection, namespace finalization,
   * CSR signing, service-account tokens): what the real hub stack needs. @default false
   */
  readonly controllerManager?: boolean;
}

interface RunningCluster {
  readonly info: ClusterInfo;
  process: ManagedProcess;
  readonly args: string[];
  controllerManager?: ManagedProcess;
}

export class ControlPlane {
  private readonly clusterMap = new Map<string, RunningCluster>();
  /** Controllers started next to the apiservers (the hub stack): stopped before them. */
  private readonly extra: ManagedProcess[] = [];
  private etcd: ManagedProcess | undefined;
  private etcdUrl = "";
  private reaper: number | undefined;
  private stopped = false;

  private constructor(
    readonly root: string,
    readonly binaries: ControlPlaneBinaries,
    private readonly log: (line: string) => void,
    private readonly nextPort: () => Promise<number>,
    private readonly etcdDataDir?: string,
    private readonly controllerManager = false,
  ) {}

  /** Starts etcd and one kube-apiserver per cluster name. Stops everything again on failure. */
  static async start(opts: StartOptions): Promise<ControlPlane> {
    const log = opts.log ?? (() => {});
    const binaries = await ensureControlPlaneBinaries({ log });
    const root = mkdtempSync(join(tmpdir(), "ibu-gitops-cp-"));
    const cp = new ControlPlane(
      root,
      binaries,
      log,
      opts.ports ?? freePort,
      opts.etcdDataDir,
      opts.controllerManager,
    );
    try {
      cp.startReaper();
      await cp.startEtcd();
      await Promise.all(opts.clusters.map(name => cp.addCluster(name)));
      return cp;
    } catch (err) {
      await cp.stop();
      throw err;
    }
  }

  get info(): ControlPlaneInfo {
    return {
      root: this.root,
      etcdUrl: this.etcdUrl,
      binaries: this.binaries,
      clusters: [...this.clusterMap.values()].map(c => c.info),
    };
  }

  cluster(name: string): TestCluster {
    const c = this.clusterMap.get(name);
    if (!c)
      throw new Error(
        `no cluster named ${name}; clusters: ${[...this.clusterMap.keys()].join(", ")}`,
      );
    return new TestCluster(c.info);
  }

  /** PIDs of every process this control plane started (etcd, apiservers, the watchdog). */
  get pids(): number[] {
    const p = [
      this.etcd?.pid,
      ...[...this.clusterMap.values()].flatMap(c => [c.process.pid, c.controllerManager?.pid]),
      ...this.extra.map(e => e.pid),
      this.reaper,
    ];
    return [...new Set(p.filter((x): x is number => typeof x === "number" && x > 0))];
  }

  /** Resident memory of etcd and of each apiserver, in bytes (for benchmarks). */
  processes(): Array<{ name: string; pid: number }> {
    const list = [...this.clusterMap.values()].flatMap(c => [
      { name: `kube-apiserver/${c.info.name}`, pid: c.process.pid },
      ...(c.controllerManager
        ? [{ name: `kube-controller-manager/${c.info.name}`, pid: c.controllerManager.pid }]
        : []),
    ]);
    // A controller-manager is both a cluster's and one of the extra processes: listed once.
    const listed = new Set(list.map(p => p.pid));
    const extra = this.extra
      .filter(e => !listed.has(e.pid))
      .map(e => ({ name: e.name, pid: e.pid }));
    return [...(this.etcd ? [{ name: "etcd", pid: this.etcd.pid }] : []), ...list, ...extra];
  }

  /**
   * Starts a further process that belongs with these clusters (a controller of the hub stack,
   * say): its output goes to `<root>/logs/<logName>.log`, the watchdog ends it if the owner dies,
   * and stop() stops it before the apiservers. Resolves once `ready` says so (or rejects with
   * the log's tail when it exits first or is not ready within `timeoutMs`).
   */
  async startProcess(p: {
    name: string;
    logName: string;
    command: string;
    args: string[];
    env?: NodeJS.ProcessEnv;
    /** Polled until true; gets the process (for its log). @default none: started is enough */
    ready?: (proc: ManagedProcess) => Promise<boolean>;
    /** @default the control plane's start timeout (60 s) */
    timeoutMs?: number;
  }): Promise<ManagedProcess> {
    if (this.stopped) throw new Error(`the control plane is stopped; cannot start ${p.name}`);
    const logs = join(this.root, "logs");
    mkdirSync(logs, { recursive: true });
    const proc = ManagedProcess.start(
      p.name,
      p.command,
      p.args,
      join(logs, `${p.logName}.log`),
      p.env,
    );
    this.recordPid(proc.pid);
    this.extra.push(proc);
    const ready = p.ready;
    if (ready) await proc.waitReady(() => ready(proc), p.timeoutMs ?? START_TIMEOUT_MS, 200);
    else if (proc.startError) throw new Error(proc.describeExit());
    return proc;
  }

  /**
   * Puts processes and folders the owner made beside the control plane (a registry, sysroots,
   * a work folder) under its watchdog: if the owner dies without stopping it, they are ended
   * and removed with the control plane's own (immutable files made mutable first, as ostree
   * deployments have them). stop() does not touch them: their owner stops them.
   */
  adopt(what: { pids?: readonly number[]; dirs?: readonly string[] }): void {
    for (const pid of what.pids ?? []) if (pid > 0) this.recordPid(pid);
    const dirs = (what.dirs ?? []).filter(d => isAbsolute(d) && d !== "/" && !d.includes("\n"));
    if (dirs.length) appendFileSync(join(this.root, "dirs"), dirs.map(d => `${d}\n`).join(""));
  }

  private recordPid(pid: number): void {
    appendFileSync(join(this.root, "pids"), `${pid}\n`);
  }

  private startReaper(): void {
    const child = spawn("bash", [join(HERE, "reaper.sh"), String(process.pid), this.root], {
      detached: true,
      stdio: "ignore",
    });
    child.unref();
    this.reaper = child.pid;
  }

  private async startEtcd(): Promise<void> {
    const dir = join(this.root, "etcd");
    mkdirSync(dir);
    for (let attempt = 1; ; attempt++) {
      const [client, peer] = [await this.nextPort(), await this.nextPort()];
      const url = `http://127.0.0.1:${client}`;
      const args = [
        `--data-dir=${this.etcdDataDir ?? join(dir, "data")}`,
        `--listen-client-urls=${url}`,
        `--advertise-client-urls=${url}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=default=http://127.0.0.1:${peer}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ];
      const p = ManagedProcess.start("etcd", this.binaries.etcd, args, join(dir, "etcd.log"));
      this.recordPid(p.pid);
      try {
        await p.waitReady(() => httpOk(`${url}/health`), START_TIMEOUT_MS);
        this.etcd = p;
        this.etcdUrl = url;
        this.log(`etcd ready at ${url}`);
        return;
      } catch (err) {
        await p.stop();
        if (attempt >= PORT_ATTEMPTS || !portTaken(p)) throw err;
      }
    }
  }

  /** Starts one more isolated cluster (its own apiserver and etcd prefix, its own CAs). */
  async addCluster(name: string): Promise<TestCluster> {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name))
      throw new Error(`cluster name ${JSON.stringify(name)} is not a DNS label`);
    if (this.clusterMap.has(name)) throw new Error(`cluster ${name} already exists`);
    const dir = join(this.root, "clusters", name);
    mkdirSync(join(dir, "users"), { recursive: true });
    const [servingCa, clientCa, saSigner] = await Promise.all([
      TinyCa.create(dir, "serving-ca"),
      TinyCa.create(dir, "client-ca"),
      TinyCa.create(dir, "sa-signer"),
    ]);
    await servingCa.issue("apiserver", { cn: "localhost" }, "server", [
      "DNS:localhost",
      "IP:127.0.0.1",
    ]);
    const admin = await clientCa.issue(
      "admin",
      { cn: "admin", orgs: ["system:masters"] },
      "client",
    );
    for (let attempt = 1; ; attempt++) {
      const port = await this.nextPort();
      const url = `https://127.0.0.1:${port}`;
      const info: ClusterInfo = {
        name,
        url,
        dir,
        kubeconfig: join(dir, "admin.kubeconfig"),
        servingCa: servingCa.certPath,
        clientCa: { cert: clientCa.certPath, key: clientCa.keyPath },
      };
      writeKubeconfig(info.kubeconfig, {
        name,
        server: url,
        ca: servingCa.certPath,
        user: "admin",
        ...admin,
      });
      const args = this.apiserverArgs(name, dir, port, saSigner);
      const running: RunningCluster = { info, args, process: this.spawnApiserver(name, dir, args) };
      try {
        await this.waitApiserver(running);
        this.clusterMap.set(name, running);
        if (this.controllerManager)
          running.controllerManager = await this.startControllerManager(info, saSigner, clientCa);
        this.log(`cluster ${name} ready at ${url}`);
        return new TestCluster(info);
      } catch (err) {
        await running.process.stop();
        if (attempt >= PORT_ATTEMPTS || !portTaken(running.process)) throw err;
      }
    }
  }

  private apiserverArgs(name: string, dir: string, port: number, saSigner: TinyCa): string[] {
    return [
      "--allow-privileged=true",
      "--authorization-mode=RBAC",
      "--bind-address=127.0.0.1",
      `--cert-dir=${dir}`,
      `--tls-cert-file=${join(dir, "apiserver.crt")}`,
      `--tls-private-key-file=${join(dir, "apiserver.key")}`,
      `--client-ca-file=${join(dir, "client-ca.crt")}`,
      "--disable-admission-plugins=ServiceAccount",
      `--etcd-servers=${this.etcdUrl}`,
      // One etcd serves every cluster; the prefix keeps their data apart.
      `--etcd-prefix=/ibu-gitops/${name}`,
      `--secure-port=${port}`,
      `--service-account-issuer=https://127.0.0.1:${port}/`,
      `--service-account-key-file=${saSigner.certPath}`,
      `--service-account-signing-key-file=${saSigner.keyPath}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      "--profiling=false",
      "--v=0",
    ];
  }

  /**
   * kube-controller-manager for one cluster, as the admin user, with the cluster's client CA as
   * the CSR signer (so client certificates asked for by CSR work as the apiserver's own) and the
   * service-account signer for tokens. Secure port 0: it serves nothing; it is ready once its
   * log says its controllers started. Controllers that need nodes or a cloud are off.
   */
  private async startControllerManager(
    info: ClusterInfo,
    saSigner: TinyCa,
    clientCa: TinyCa,
  ): Promise<ManagedProcess> {
    const kcm = this.binaries.kubeControllerManager;
    if (!existsSync(kcm))
      throw new Error(
        `no kube-controller-manager at ${kcm} (KUBEBUILDER_ASSETS holds only envtest's binaries?); ` +
          "add it there, or unset KUBEBUILDER_ASSETS so `npm run controlplane` builds it",
      );
    const args = [
      `--kubeconfig=${info.kubeconfig}`,
      `--authentication-kubeconfig=${info.kubeconfig}`,
      `--authorization-kubeconfig=${info.kubeconfig}`,
      "--leader-elect=false",
      "--bind-address=127.0.0.1",
      "--secure-port=0",
      "--controllers=*,-nodeipam,-nodelifecycle,-persistentvolume-binder,-attachdetach,-persistentvolume-expander,-cloud-node-lifecycle,-ttl,-route,-service,-bootstrapsigner,-tokencleaner",
      `--service-account-private-key-file=${saSigner.keyPath}`,
      `--root-ca-file=${info.servingCa}`,
      `--cluster-signing-cert-file=${clientCa.certPath}`,
      `--cluster-signing-key-file=${clientCa.keyPath}`,
      "--use-service-account-credentials=false",
      "--v=1",
    ];
    const started = Date.now();
    const proc = await this.startProcess({
      name: `kube-controller-manager (${info.name})`,
      logName: `kube-controller-manager-${info.name}`,
      command: kcm,
      args,
      // Up and past flag parsing and its first informer sync: the log says "Started controller".
      ready: proc =>
        Promise.resolve(/Started controller|Starting controller/.test(proc.logTail(400))),
    }).catch((err: unknown) => {
      throw new Error(`kube-controller-manager for ${info.name}: ${(err as Error).message}`, {
        cause: err,
      });
    });
    this.log(`kube-controller-manager for ${info.name} up in ${Date.now() - started} ms`);
    return proc;
  }

  private spawnApiserver(name: string, dir: string, args: string[]): ManagedProcess {
    const p = ManagedProcess.start(
      `kube-apiserver (${name})`,
      this.binaries.kubeApiserver,
      args,
      join(dir, "apiserver.log"),
    );
    this.recordPid(p.pid);
    return p;
  }

  private async waitApiserver(c: RunningCluster): Promise<void> {
    const cluster = new TestCluster(c.info);
    await c.process.waitReady(() => cluster.isReady(), START_TIMEOUT_MS, 150);
  }

  /** Stops one cluster's apiserver (its data stays in etcd), e.g. to test reconnects. */
  async stopCluster(name: string): Promise<void> {
    const c = this.clusterMap.get(name);
    if (!c) throw new Error(`no cluster named ${name}`);
    await c.process.stop();
  }

  /** Starts a stopped cluster's apiserver again on the same port with the same data. */
  async restartCluster(name: string): Promise<void> {
    const c = this.clusterMap.get(name);
    if (!c) throw new Error(`no cluster named ${name}`);
    await c.process.stop();
    c.process = this.spawnApiserver(name, c.info.dir, c.args);
    await this.waitApiserver(c);
  }

  /**
   * With IBU_GITOPS_KEEP_LOGS=<dir>, copies every process's log (apiservers, etcd, the hub
   * stack) to <dir>/<control plane folder>/ before the folder goes: what to read after a failure.
   */
  private keepLogs(): void {
    const keep = process.env.IBU_GITOPS_KEEP_LOGS;
    if (!keep) return;
    const to = join(keep, basename(this.root));
    try {
      mkdirSync(to, { recursive: true });
      cpSync(this.root, to, {
        recursive: true,
        filter: src => statSync(src).isDirectory() || src.endsWith(".log"),
      });
      this.log(`logs kept in ${to}`);
    } catch (err) {
      this.log(`could not keep the logs in ${to}: ${(err as Error).message}`);
    }
  }

  /** Stops every process and removes every file. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.extra.map(p => p.stop()));
    await Promise.all(
      [...this.clusterMap.values()].map(async c => {
        await c.controllerManager?.stop();
        await c.process.stop();
      }),
    );
    await this.etcd?.stop();
    this.keepLogs();
    rmSync(this.root, { recursive: true, force: true });
    if (this.reaper) {
      try {
        process.kill(this.reaper, "SIGTERM");
      } catch {
        // already gone
      }
      await waitGone(this.reaper);
    }
  }
}

function portTaken(p: ManagedProcess): boolean {
  return /address already in use|bind: address/i.test(p.logTail(50));
}

async function waitGone(pid: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
}
