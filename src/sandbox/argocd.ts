// A real Argo CD (v3.2.6, built from its Go module with the hub stack) on a sandbox hub: Redis,
// the repo-server (rendering with the kustomize built beside it) and the application controller,
// run outside the cluster the way ../shared/reference/real-hub-stack.md §4 describes.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { delimiter, dirname } from "node:path";
import type { KubeApi, KubeObject } from "../../addon/shared/kube.js";
import type { ControlPlane } from "./controlplane.js";
import type { HubStackBinaries } from "./hubstack-build.js";
import { freePort, httpOk, type ManagedProcess } from "./process.js";

/** Where OpenShift GitOps runs Argo CD, and where the generated Application and AppProject live. */
export const ARGOCD_NAMESPACE = "openshift-gitops";

/** The annotation a Git webhook's handler sets to make Argo CD look at the repository now. */
export const REFRESH_ANNOTATION = "argocd.argoproj.io/refresh";

const APPS = `/apis/argoproj.io/v1alpha1/namespaces/${ARGOCD_NAMESPACE}/applications`;

/** What the tests and the demo read of an Application (argoproj.io/v1alpha1). */
export interface Application extends KubeObject {
  status?: {
    sync?: { status?: string; revision?: string };
    health?: { status?: string; message?: string };
    conditions?: Array<{ type: string; message: string }>;
    operationState?: {
      phase?: string;
      message?: string;
      startedAt?: string;
      finishedAt?: string;
      syncResult?: {
        revision?: string;
        resources?: Array<{
          kind: string;
          name: string;
          namespace?: string;
          status?: string;
          message?: string;
          syncPhase?: string;
        }>;
      };
    };
  };
}

/** One sync Argo CD finished for a revision. */
export interface Synced {
  readonly app: Application;
  /** From the refresh request to the sync operation's end, as this process saw it, in ms. */
  readonly ms: number;
}

export interface ArgoCdOptions {
  readonly cp: ControlPlane;
  /** The hub's kubeconfig: the controller's `https://kubernetes.default.svc`. */
  readonly hubKubeconfig: string;
  readonly hubApi: KubeApi;
  readonly binaries: HubStackBinaries;
  readonly log?: (line: string) => void;
}

/**
 * Argo CD's repo-server and application controller (and the Redis they share) as processes of
 * the control plane (stopped by cp.stop(), ended by its watchdog). No API server, UI or Dex: the
 * Applications are written with kubectl's habits, as OpenShift GitOps users do with `oc apply`.
 * The CRDs (Application, AppProject) come with the hub's CRD set (src/sandbox/crds.ts).
 */
export class ArgoCd {
  private readonly procs: Array<{ name: string; process: ManagedProcess }> = [];

  private constructor(private readonly opts: ArgoCdOptions) {}

  /**
   * Starts Redis, the repo-server and the application controller, and writes the ConfigMaps and
   * Secret they read. Rejects when `redis-server` is not installed (scripts/install-deps.sh) or
   * a process does not become ready within two minutes (the error shows its log's tail).
   */
  static async start(opts: ArgoCdOptions): Promise<ArgoCd> {
    const argo = new ArgoCd(opts);
    const started = Date.now();
    await argo.prepareNamespace();
    const redis = await argo.startRedis();
    const repo = await argo.startRepoServer(redis);
    await argo.startController(redis, repo);
    opts.log?.(`Argo CD up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return argo;
  }

  /** Name and PID of each process, for benchmarks and leak checks. */
  processes(): Array<{ name: string; pid: number }> {
    return this.procs.map(p => ({ name: p.name, pid: p.process.pid }));
  }

  /** The log of a process: "redis", "argocd-repo-server" or "argocd-application-controller". */
  logOf(name: string): string {
    const p = this.procs.find(x => x.name === name);
    if (!p) throw new Error(`no Argo CD process ${name}`);
    return p.process.logPath;
  }

  /** Reads an Application of the Argo CD namespace; undefined when there is none. */
  async application(name: string): Promise<Application | undefined> {
    return this.opts.hubApi.get<Application>(`${APPS}/${name}`);
  }

  /**
   * Asks Argo CD to compare the Application with Git now (what its Git webhook handler does on
   * a push), then waits until an automated sync of `revision` has finished. Resolves with the
   * Application when the sync Succeeded; rejects with Argo CD's message and every resource it
   * could not sync when it Failed or Errored, or on timeout with the last status read.
   * @param revision the full commit SHA Argo CD must have synced
   * @param timeoutMs @default 300000 (5 minutes: a refresh, a render and the sync waves)
   */
  async syncRevision(name: string, revision: string, timeoutMs = 300_000): Promise<Synced> {
    const started = Date.now();
    const refresh = (): Promise<unknown> =>
      this.opts.hubApi.mergePatch(`${APPS}/${name}`, {
        metadata: { annotations: { [REFRESH_ANNOTATION]: "normal" } },
      });
    await refresh();
    let last: Application | undefined;
    let refreshedAt = Date.now();
    for (;;) {
      last = (await this.application(name).catch(() => last)) ?? last;
      if (last && syncFinished(name, last, revision))
        return { app: last, ms: Date.now() - started };
      if (Date.now() - started > timeoutMs)
        throw new Error(
          `Argo CD did not sync ${name} at ${revision.slice(0, 8)} within ${timeoutMs / 1000} s; ` +
            `last status: ${JSON.stringify(last?.status ?? null).slice(0, 3000)}`,
        );
      // A refresh requested while the controller was busy with the previous one can be
      // absorbed by it; ask again while Argo CD still shows another revision.
      if (Date.now() - refreshedAt > 15_000 && last?.status?.sync?.revision !== revision) {
        refreshedAt = Date.now();
        await refresh();
      }
      await new Promise(r => setTimeout(r, 250));
    }
  }

  private async prepareNamespace(): Promise<void> {
    const api = this.opts.hubApi;
    const meta = (
      name: string,
    ): { name: string; namespace: string; labels: Record<string, string> } => ({
      name,
      namespace: ARGOCD_NAMESPACE,
      labels: { "app.kubernetes.io/part-of": "argocd" },
    });
    await api.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ARGOCD_NAMESPACE } });
    await api.apply({ apiVersion: "v1", kind: "ConfigMap", metadata: meta("argocd-cm"), data: {} });
    await api.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta("argocd-rbac-cm"),
      data: {},
    });
    await api.apply({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta("argocd-cmd-params-cm"),
      data: {},
    });
    // The signing key Argo CD expects; random per sandbox, never written anywhere else.
    await api.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta("argocd-secret"),
      type: "Opaque",
      stringData: { "server.secretkey": randomBytes(32).toString("base64") },
    });
  }

  private async startRedis(): Promise<number> {
    const redis = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].find(p => existsSync(p));
    if (!redis)
      throw new Error(
        "redis-server is not installed: Argo CD's controller and repo-server share a Redis; " +
          "run scripts/install-deps.sh (Debian package redis-server)",
      );
    return this.run("redis", redis, {}, port => ({
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      ready: () => redisPing(port),
    }));
  }

  private async startRepoServer(redis: number): Promise<number> {
    const argocd = this.opts.binaries.path("argocd");
    // The repo-server runs `kustomize` from PATH: the one built with the hub stack.
    const path = [dirname(this.opts.binaries.path("kustomize")), process.env.PATH ?? ""].join(
      delimiter,
    );
    let grpc = 0;
    await this.run(
      "argocd-repo-server",
      argocd,
      { ARGOCD_BINARY_NAME: "argocd-repo-server", ARGOCD_GPG_ENABLED: "false", PATH: path },
      async metrics => {
        grpc = await freePort();
        return {
          args: [
            `--redis=127.0.0.1:${redis}`,
            "--address=127.0.0.1",
            `--port=${grpc}`,
            "--metrics-address=127.0.0.1",
            `--metrics-port=${metrics}`,
            "--disable-tls",
          ],
          ready: () => httpOk(`http://127.0.0.1:${metrics}/metrics`),
        };
      },
    );
    return grpc;
  }

  private async startController(redis: number, repo: number): Promise<void> {
    await this.run(
      "argocd-application-controller",
      this.opts.binaries.path("argocd"),
      {
        ARGOCD_BINARY_NAME: "argocd-application-controller",
        // `https://kubernetes.default.svc` is the cluster of KUBECONFIG: the hub.
        ARGOCD_FAKE_IN_CLUSTER: "true",
        KUBECONFIG: this.opts.hubKubeconfig,
      },
      metrics => ({
        args: [
          `--kubeconfig=${this.opts.hubKubeconfig}`,
          `--namespace=${ARGOCD_NAMESPACE}`,
          `--redis=127.0.0.1:${redis}`,
          `--repo-server=127.0.0.1:${repo}`,
          "--repo-server-plaintext",
          `--metrics-port=${metrics}`,
          // A push is announced by a refresh (syncRevision); the periodic resync is the fallback.
          "--app-resync=60",
          "--self-heal-timeout-seconds=5",
        ],
        ready: () => httpOk(`http://127.0.0.1:${metrics}/metrics`),
      }),
    );
  }

  /** Starts one process on a free port (tried again on a port taken meanwhile). Resolves the port. */
  private async run(
    name: string,
    command: string,
    env: NodeJS.ProcessEnv,
    launch: (port: number) => Launch | Promise<Launch>,
  ): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const { args, ready } = await launch(port);
      try {
        const process = await this.opts.cp.startProcess({
          name,
          logName: name,
          command,
          args,
          env: { ...globalThis.process.env, ...env },
          ready: () => ready(),
          timeoutMs: 120_000,
        });
        this.procs.push({ name, process });
        return port;
      } catch (err) {
        if (attempt >= 5 || !/address already in use/i.test((err as Error).message)) throw err;
      }
    }
  }
}

/**
 * True when Argo CD's last sync operation of `app` was for `revision` and Succeeded; false while
 * none for it has finished. Throws Argo CD's message and every resource it could not sync when
 * that operation Failed or Errored.
 */
function syncFinished(name: string, app: Application, revision: string): boolean {
  const op = app.status?.operationState;
  if (op?.syncResult?.revision !== revision || !op.phase || op.phase === "Running") return false;
  if (op.phase === "Succeeded") return true;
  const failed = (op.syncResult.resources ?? []).filter(r => r.status !== "Synced");
  throw new Error(
    `Argo CD could not sync ${name} at ${revision.slice(0, 8)}: ${op.phase}: ${op.message ?? ""}` +
      failed
        .map(r => `\n  ${r.kind} ${r.namespace ?? ""}/${r.name}: ${r.message ?? r.status}`)
        .join(""),
  );
}

interface Launch {
  readonly args: string[];
  readonly ready: () => Promise<boolean>;
}

/** True when a Redis answers PING on loopback `port`. */
function redisPing(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = createConnection({ host: "127.0.0.1", port }, () => socket.write("PING\r\n"));
    socket.setTimeout(2000, () => socket.destroy());
    socket.once("data", d => {
      resolve(d.toString().startsWith("+PONG"));
      socket.destroy();
    });
    socket.once("error", () => resolve(false));
    socket.once("close", () => resolve(false));
  });
}
