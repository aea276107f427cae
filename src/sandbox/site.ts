// A whole sandbox site: a hub and N spokes (real kube-apiservers, etcd and, with the hub stack,
// kube-controller-manager), a loopback registry holding a seed built from a seed cluster's
// stateroot, an ostree sysroot and agent per spoke reporting to the hub, the hub controller with
// its dashboard, and optionally the real hub stack (governance, OCM, TALM). The demo and the
// end-to-end tests run on it; stop() removes everything it made.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HubController } from "../../addon/hub/controller.js";
import { Authorizer } from "../../addon/hub/auth.js";
import { HubServer } from "../../addon/hub/server.js";
import { mountDashboard } from "../../addon/hub/dashboard/assets.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { loadKubeconfig } from "../../addon/shared/kubeconfig.js";
import { ensureControlPlaneBinaries } from "./controlplane-build.js";
import { serviceAccountToken, writeContextsKubeconfig } from "./cluster.js";
import { ControlPlane } from "./controlplane.js";
import { loadOwnCrds, loadThirdPartyCrds } from "./crds.js";
import { ArgoCd } from "./argocd.js";
import { HubStack, registerManagedCluster } from "./hubstack.js";
import { ensureHubStackBinaries } from "./hubstack-build.js";
import { TestRegistry } from "./registry.js";
import { SandboxNode } from "./sandbox-node.js";
import { publishSeed } from "./seed-fixture.js";
import { makeSysroot, type TestSysroot } from "./sysroot.js";
import type { FleetDocument } from "./fleet-commits.js";

const STOPPED = "the site was stopped while it started";

export const FROM_VERSION = "4.17.0";
export const TO_VERSION = "4.18.1";
/** Where the hub controller runs, as the generated addon deploys it. */
export const HUB_NAMESPACE = "ibu-gitops";

export interface SiteOptions {
  /** Spoke names. */
  readonly spokes: readonly string[];
  /** Run the real hub stack (and kube-controller-manager per cluster). @default false */
  readonly hubStack?: boolean;
  /** Run Argo CD (repo-server, application controller, Redis) on the hub too; needs hubStack. @default false */
  readonly argocd?: boolean;
  /** Labels of each spoke's ManagedCluster besides name, clusterset and ztp-done. */
  readonly clusterLabels?: (spoke: string) => Record<string, string>;
  /** Lines for the user. @default silence */
  readonly say?: (line: string) => void;
  /** Agent, controller and stack logs. @default silence */
  readonly log?: (line: string) => void;
  /** The dashboard's address. @default 127.0.0.1:0 (a free port) */
  readonly listen?: string;
  /** Progress lines while binaries build. */
  readonly onBuildStep?: (what: string, done: number, total: number, building: string) => void;
}

export interface SiteSpoke {
  readonly name: string;
  readonly sysroot: TestSysroot;
  readonly sandbox: SandboxNode;
  readonly api: KubeApi;
}

export class SandboxSite {
  cp: ControlPlane | undefined;
  registry: TestRegistry | undefined;
  hubStack: HubStack | undefined;
  argocd: ArgoCd | undefined;
  private seedCluster: TestSysroot | undefined;
  readonly spokes: SiteSpoke[] = [];
  private hub:
    | { controller: HubController; server: HubServer; abort: AbortController; run: Promise<void> }
    | undefined;
  readonly work = mkdtempSync(join(tmpdir(), "ibu-gitops-site-"));
  private stopped = false;
  seed = "";
  /** The dashboard's base URL (no token). */
  dashboardBase = "";
  /** A dashboard viewer's bearer token (a ServiceAccount token on the hub). */
  token = "";
  hubApi: KubeApi | undefined;

  constructor(private readonly opts: SiteOptions) {}

  get hubKubeconfig(): string {
    return this.cp!.cluster("hub").info.kubeconfig;
  }

  /** The spokes' kubeconfig: a context per spoke, as `ibu-gitops stage` reads it. */
  get spokesKubeconfig(): string {
    return join(this.work, "spokes.kubeconfig");
  }

  get controller(): HubController {
    if (!this.hub) throw new Error("the site's hub controller is not running");
    return this.hub.controller;
  }

  spoke(name: string): SiteSpoke {
    const s = this.spokes.find(x => x.name === name);
    if (!s) throw new Error(`no spoke ${name}`);
    return s;
  }

  /** Starts everything; every spoke is Idle on FROM_VERSION afterwards. */
  async start(): Promise<void> {
    const say = this.opts.say ?? ((): void => {});
    const log = this.opts.log ?? ((): void => {});
    const step = this.opts.onBuildStep;
    await ensureControlPlaneBinaries({
      onStep: (d, t, b) => step?.("control plane", d, t, b),
    });
    const stackBinaries = this.opts.hubStack
      ? await ensureHubStackBinaries({ onStep: (d, t, b) => step?.("hub stack", d, t, b) })
      : undefined;
    const names = ["hub", ...this.opts.spokes];
    say(
      `starting a hub and ${this.opts.spokes.length} spoke(s)` +
        `${this.opts.hubStack ? ` with the real hub stack (ACM governance, OCM, TALM${this.opts.argocd ? ", Argo CD" : ""})` : ""}, a registry and a seed cluster`,
    );
    // Each kept as soon as it exists, so a stop() while the others start finds it.
    await Promise.all([
      this.keep(
        ControlPlane.start({ clusters: names, log, controllerManager: !!this.opts.hubStack }),
        cp => cp.stop(),
      ).then(cp => (this.cp = cp)),
      this.keep(TestRegistry.start(), r => r.stop()).then(r => (this.registry = r)),
      this.keep(makeSysroot(TO_VERSION, { hostname: "seed" }), s => s.remove()).then(
        s => (this.seedCluster = s),
      ),
    ]);
    const [cp, registry, seedCluster] = [this.cp!, this.registry!, this.seedCluster!];
    // If this process dies without stop(), the control plane's watchdog ends these too.
    cp.adopt({ pids: [registry.pid], dirs: [this.work, registry.dir, seedCluster.dir] });
    const crds = [...(await loadThirdPartyCrds()), ...loadOwnCrds()];
    await Promise.all(
      names.map(c => this.cp!.cluster(c).installCrdSet(crds, c === "hub" ? "hub" : "spoke")),
    );
    say(`building the ${TO_VERSION} seed from the seed cluster's stateroot and pushing it`);
    ({ seed: this.seed } = await publishSeed(registry, seedCluster, {
      version: TO_VERSION,
      imageNames: ["release", "operator"],
    }));
    this.hubApi = new KubeApi(loadKubeconfig(this.hubKubeconfig));
    if (stackBinaries) {
      [this.hubStack, this.argocd] = await Promise.all([
        HubStack.start({
          cp,
          spokes: this.opts.spokes,
          binaries: stackBinaries,
          log,
          ...(this.opts.clusterLabels ? { clusterLabels: this.opts.clusterLabels } : {}),
        }),
        this.opts.argocd
          ? ArgoCd.start({
              cp,
              hubKubeconfig: this.hubKubeconfig,
              hubApi: this.hubApi,
              binaries: stackBinaries,
              log,
            })
          : undefined,
      ]);
    } else {
      for (const s of this.opts.spokes)
        await registerManagedCluster(this.hubApi, s, this.opts.clusterLabels?.(s));
    }
    for (const name of this.opts.spokes)
      await this.hubApi.apply({
        apiVersion: "addon.open-cluster-management.io/v1alpha1",
        kind: "ManagedClusterAddOn",
        metadata: { name: "ibu-gitops", namespace: name },
        spec: {},
      });
    await this.startHub();
    await this.startSpokes();
  }

  /** The hub controller and dashboard, and a viewer token for the dashboard. */
  private async startHub(): Promise<void> {
    const api = this.hubApi!;
    const log = this.opts.log ?? ((): void => {});
    await api.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: HUB_NAMESPACE } });
    await api.apply({
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "demo-viewer", namespace: HUB_NAMESPACE },
    });
    await api.apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: "ibu-gitops-demo-viewer" },
      rules: [
        {
          apiGroups: ["ibu-gitops.dev"],
          resources: ["clusterupgrades"],
          verbs: ["get", "list", "watch"],
        },
        { nonResourceURLs: ["/metrics"], verbs: ["get"] },
      ],
    });
    await api.apply({
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: "ibu-gitops-demo-viewer" },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: "ibu-gitops-demo-viewer",
      },
      subjects: [{ kind: "ServiceAccount", name: "demo-viewer", namespace: HUB_NAMESPACE }],
    });
    this.token = await serviceAccountToken(api, HUB_NAMESPACE, "demo-viewer", 86_400);
    const controller = new HubController({
      api,
      namespace: HUB_NAMESPACE,
      identity: "sandbox",
      leaderElect: false,
      stuckAfterMs: 10 * 60_000,
      log,
    });
    const server = new HubServer({
      controller,
      authorizer: new Authorizer(api, { log }),
      listen: this.opts.listen ?? "127.0.0.1:0",
      log,
    });
    mountDashboard(server);
    const abort = new AbortController();
    const addr = await server.listen();
    this.hub = { controller, server, abort, run: controller.run(abort.signal) };
    this.dashboardBase = `http://127.0.0.1:${addr.port}/`;
  }

  private async startSpokes(): Promise<void> {
    for (const name of this.opts.spokes) {
      const cluster = this.cp!.cluster(name);
      const sysroot = await this.keep(makeSysroot(FROM_VERSION, { hostname: name }), s =>
        s.remove(),
      );
      this.cp!.adopt({ dirs: [sysroot.dir] });
      const api = new KubeApi(loadKubeconfig(cluster.info.kubeconfig));
      const log = this.opts.log;
      const sandbox = new SandboxNode(sysroot, api, {
        insecureRegistries: [this.registry!.host],
        imageStoreRoot: mkdtempSync(join(this.work, `store-${name}-`)),
        ...(log ? { log: (l: string) => log(`[${name}] ${l}`) } : {}),
        hub: { api: this.hubApi!, clusterName: name },
      });
      // In the list before the next await: a stop() meanwhile removes its sysroot.
      this.spokes.push({ name, sysroot, sandbox, api });
      // Where OADP runs on a ZTP-installed SNO; ZTP's oadp-cm policy writes its ConfigMap there.
      await api.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "openshift-adp" } });
      if (this.stopped) throw new Error(STOPPED);
      sandbox.start();
    }
    writeContextsKubeconfig(
      this.spokesKubeconfig,
      this.opts.spokes.map(n => this.cp!.cluster(n)),
    );
  }

  /**
   * Resolves what start() made once it exists; when stop() came first, undoes it at once and
   * rejects, so nothing made during a stop outlives it.
   */
  private async keep<T>(made: Promise<T>, undo: (x: T) => Promise<unknown>): Promise<T> {
    const x = await made;
    if (this.stopped) {
      await undo(x).catch(() => undefined);
      throw new Error(STOPPED);
    }
    return x;
  }

  /** The processes and folders the site made so far (all gone after stop()). */
  resources(): { pids: number[]; dirs: string[] } {
    return {
      pids: [...(this.cp?.pids ?? []), ...(this.registry ? [this.registry.pid] : [])],
      dirs: [
        this.work,
        ...(this.cp ? [this.cp.root] : []),
        ...(this.registry ? [this.registry.dir] : []),
        ...(this.seedCluster ? [this.seedCluster.dir] : []),
        ...this.spokes.map(s => s.sysroot.dir),
      ],
    };
  }

  /** Stops everything it started and removes every folder. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const s of this.spokes) await s.sandbox.stop().catch(() => undefined);
    this.hub?.abort.abort();
    await this.hub?.run.catch(() => undefined);
    await this.hub?.server.close().catch(() => undefined);
    await Promise.all([
      this.cp?.stop(),
      this.registry?.stop(),
      this.seedCluster?.remove(),
      ...this.spokes.map(s => s.sysroot.remove()),
    ]);
    rmSync(this.work, { recursive: true, force: true });
  }
}

/** What differs between the sandbox's fleets (the demo, the e2e tests, the benchmarks). */
export interface SandboxFleetOptions {
  readonly name: string;
  /** The seed image (SandboxSite.seed); its version is TO_VERSION. */
  readonly seed: string;
  readonly groups: ReadonlyArray<Record<string, unknown>>;
  /** @default "cgu" */
  readonly flavour?: "cgu" | "ibgu";
  /** The policy and upgrade namespaces, both owned by this fleet. @default ztp-group, ztp-upgrades */
  readonly namespaces?: { readonly policy: string; readonly upgrade: string };
  /** Every stage's CGU timeout (TALM counts minutes), maxConcurrency 10. @default 10 */
  readonly timeoutMinutes?: number;
  /** Per-stage rollout settings over the defaults (e.g. a shorter prep timeout). */
  readonly rollout?: Record<string, unknown>;
  /** More `spec` fields (e.g. `addon`, `policyName`). */
  readonly spec?: Record<string, unknown>;
}

/**
 * A fleet file for the sandbox's spokes: a bare hub without ZTP's policies app (the fleet owns
 * its namespaces), the sandbox's seed, and no OADP content (the sandbox spokes have no
 * klusterlet for the platform Backup to label). Stages in `groups` as in a user's fleet.yaml.
 */
export function sandboxFleet(o: SandboxFleetOptions): FleetDocument {
  const ns = o.namespaces ?? { policy: "ztp-group", upgrade: "ztp-upgrades" };
  const flavour = o.flavour ?? "cgu";
  const stages =
    flavour === "cgu"
      ? ["prep", "upgrade", "finalize", "rollback", "abort"]
      : ["prep", "upgrade", "finalize"];
  const timeout = o.timeoutMinutes ?? 10;
  return {
    apiVersion: "ibu-gitops.dev/v1alpha1",
    kind: "Fleet",
    metadata: { name: o.name },
    spec: {
      hub: {
        policyNamespace: ns.policy,
        upgradeNamespace: ns.upgrade,
        ownedNamespaces: [ns.policy, ns.upgrade],
      },
      flavour,
      seedImage: { image: o.seed, version: TO_VERSION },
      oadp: { content: [] },
      groups: [...o.groups],
      rollout: {
        ...Object.fromEntries(stages.map(s => [s, { maxConcurrency: 10, timeout }])),
        ...o.rollout,
      },
      ...o.spec,
    },
  };
}
