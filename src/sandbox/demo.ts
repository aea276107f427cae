// `ibu-gitops demo`: the whole system on this machine. A hub and N spokes (real kube-apiservers
// and etcd), a loopback registry holding a seed built on the fly from a seed cluster's
// sysroot, an ostree sysroot per spoke with its own PKI, one agent per spoke reporting to the
// hub, and the hub controller with its dashboard. The generated addon and policies of a demo
// fleet are applied to the hub; then the fleet is walked group by group through
// Prep → Upgrade → finalize with `ibu-gitops stage` (the documented manual way), showing a
// cancel and a rollback on one spoke each. Everything it starts is stopped by stop().
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { HubController } from "../../addon/hub/controller.js";
import { Authorizer } from "../../addon/hub/auth.js";
import { HubServer } from "../../addon/hub/server.js";
import { mountDashboard } from "../../addon/hub/dashboard/assets.js";
import type { ClusterSummary, FleetSummary } from "../../addon/hub/fleet.js";
import { KubeApi, type KubeObject } from "../../addon/shared/kube.js";
import { loadKubeconfig } from "../../addon/shared/kubeconfig.js";
import { DISABLE_AUTO_IMPORT } from "../../addon/shared/report.js";
import { IBU_PATH } from "../../addon/agent/controller.js";
import type { Ibu } from "../../addon/agent/ibu-types.js";
import { bootedDeployment, SandboxBoot } from "../../addon/agent/drivers/boot.js";
import { loadFleet } from "../fleet/load.js";
import { synthFleet } from "../synth.js";
import { runStage, type StageArgs } from "../cli/stage.js";
import { progressLine } from "../cli/progress.js";
import { ensureControlPlaneBinaries } from "./controlplane-build.js";
import { serviceAccountToken, writeContextsKubeconfig } from "./cluster.js";
import { ControlPlane } from "./controlplane.js";
import { loadOwnCrds, loadThirdPartyCrds } from "./crds.js";
import { TestRegistry } from "./registry.js";
import { SandboxNode } from "./sandbox-node.js";
import { publishSeed } from "./seed-fixture.js";
import { makeSysroot, type TestSysroot } from "./sysroot.js";

export const FROM_VERSION = "4.17.0";
export const TO_VERSION = "4.18.1";
const HUB_NAMESPACE = "ibu-gitops";

export interface DemoOptions {
  readonly spokes: number;
  /** Lines for the user. */
  readonly say: (line: string) => void;
  /** Agent and controller logs (quiet by default). */
  readonly log?: (line: string) => void;
  /** The dashboard's address. @default 127.0.0.1:0 (a free port) */
  readonly listen?: string;
  readonly tty?: boolean;
}

/** What the demo leaves behind to check: each spoke's end state and the hub's counts. */
export interface DemoResult {
  readonly spokes: Array<{
    name: string;
    booted: string | undefined;
    stateroots: string[];
    idle: boolean;
    autoImportDisabled: boolean;
  }>;
  readonly summary: unknown;
  /** HTTP status of the dashboard's page. */
  readonly dashboardPage?: number;
  readonly pids: number[];
  readonly dirs: string[];
}

interface Spoke {
  readonly name: string;
  readonly sysroot: TestSysroot;
  readonly sandbox: SandboxNode;
  readonly api: KubeApi;
}

export class Demo {
  private cp: ControlPlane | undefined;
  private registry: TestRegistry | undefined;
  private seedCluster: TestSysroot | undefined;
  private readonly spokes: Spoke[] = [];
  private hub: { controller: HubController; server: HubServer; abort: AbortController } | undefined;
  private hubRun: Promise<void> | undefined;
  private readonly work = mkdtempSync(join(tmpdir(), "ibu-gitops-demo-"));
  private stopped = false;
  seed = "";
  dashboardUrl = "";
  token = "";
  hubApi: KubeApi | undefined;

  constructor(private readonly opts: DemoOptions) {
    if (!Number.isInteger(opts.spokes) || opts.spokes < 1 || opts.spokes > 20)
      throw new Error(`--spokes must be a whole number from 1 to 20, not ${opts.spokes}`);
  }

  get spokeNames(): string[] {
    return Array.from({ length: this.opts.spokes }, (_, i) => `spoke-${i + 1}`);
  }

  get hubKubeconfig(): string {
    return this.cp!.cluster("hub").info.kubeconfig;
  }

  /** The spokes' kubeconfig: a context per spoke, as `ibu-gitops stage` reads it. */
  get spokesKubeconfig(): string {
    return join(this.work, "spokes.kubeconfig");
  }

  /** Starts everything; the fleet is at Idle on the old version afterwards. */
  async start(): Promise<void> {
    const { say } = this.opts;
    const quiet = this.opts.log ?? ((): void => {});
    say(
      "control-plane binaries: from the cache, or built with Go (about 5 minutes the first time)",
    );
    await ensureControlPlaneBinaries({
      onStep: (done, total, building) =>
        say(
          progressLine(
            done,
            0,
            total,
            building ? `building ${building} (${done + 1}/${total})` : "built",
          ),
        ),
    });
    say(`starting a hub and ${this.opts.spokes} spoke(s), a registry and a seed cluster`);
    const clusters = ["hub", ...this.spokeNames];
    [this.cp, this.registry, this.seedCluster] = await Promise.all([
      ControlPlane.start({ clusters, log: quiet }),
      TestRegistry.start(),
      makeSysroot(TO_VERSION, { hostname: "seed" }),
    ]);
    const crds = [...(await loadThirdPartyCrds()), ...loadOwnCrds()];
    await Promise.all(
      clusters.map(c => this.cp!.cluster(c).installCrdSet(crds, c === "hub" ? "hub" : "spoke")),
    );
    say(`building the ${TO_VERSION} seed from the seed cluster's stateroot and pushing it`);
    ({ seed: this.seed } = await publishSeed(this.registry, this.seedCluster, {
      version: TO_VERSION,
      imageNames: ["release", "operator"],
    }));
    this.hubApi = new KubeApi(loadKubeconfig(this.hubKubeconfig));
    await this.applyFleet();
    await this.startHub();
    await this.startSpokes();
    say(`dashboard: ${this.dashboardUrl}`);
    say(`status:    npx ibu-gitops status --kubeconfig ${this.hubKubeconfig}`);
  }

  /** The generated GitOps output of a demo fleet, applied to the hub as Argo CD would. */
  private async applyFleet(): Promise<void> {
    const names = this.spokeNames;
    const groups =
      names.length === 1
        ? [{ name: "canary", clusters: names, stage: "Upgrade" }]
        : [
            { name: "canary", clusters: names.slice(0, 1), stage: "Upgrade" },
            { name: "wave-1", clusters: names.slice(1), stage: "Upgrade" },
          ];
    const fleetFile = join(this.work, "fleet.yaml");
    writeFileSync(
      fleetFile,
      stringify({
        apiVersion: "ibu-gitops.dev/v1alpha1",
        kind: "Fleet",
        metadata: { name: "demo" },
        spec: {
          // A bare hub without ZTP's policies app: this fleet owns both namespaces.
          hub: {
            policyNamespace: "ztp-group",
            upgradeNamespace: "ztp-upgrades",
            ownedNamespaces: ["ztp-group", "ztp-upgrades"],
          },
          flavour: "cgu",
          policyName: "group-ibu",
          seedImage: { image: this.seed, version: TO_VERSION },
          groups,
          addon: { image: "quay.example.com/ibu-gitops/ibu-gitops:0.1.0" },
        },
      }),
    );
    const api = this.hubApi!;
    // The managed clusters first, as ACM has them: namespace, ManagedCluster, addon.
    for (const name of names) {
      await api.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
      await api.apply({
        apiVersion: "cluster.open-cluster-management.io/v1",
        kind: "ManagedCluster",
        metadata: {
          name,
          labels: { name, "cluster.open-cluster-management.io/clusterset": "global" },
        },
        spec: { hubAcceptsClient: true },
      });
      await api.apply({
        apiVersion: "addon.open-cluster-management.io/v1alpha1",
        kind: "ManagedClusterAddOn",
        metadata: { name: "ibu-gitops", namespace: name },
        spec: {},
      });
    }
    const objects: KubeObject[] = [];
    for (const [file, text] of synthFleet(loadFleet(fleetFile))) {
      if (file.endsWith("kustomization.yaml")) continue;
      for (const d of parseAllDocuments(text)) {
        const o = d.toJS() as KubeObject | null;
        if (o) objects.push(o);
      }
    }
    const wave = (o: KubeObject): number =>
      Number(
        (o.metadata?.annotations as Record<string, string> | undefined)?.[
          "argocd.argoproj.io/sync-wave"
        ] ?? 0,
      );
    objects.sort((a, b) => wave(a) - wave(b));
    const failures: string[] = [];
    for (const o of objects) {
      if (o.metadata?.namespace)
        await api.apply({
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: o.metadata.namespace },
        });
      try {
        await api.apply(o);
      } catch (err) {
        failures.push(`${o.kind} ${o.metadata?.name ?? ""}: ${(err as Error).message}`);
      }
    }
    if (failures.length)
      throw new Error(`the hub refused generated objects:\n  ${failures.join("\n  ")}`);
    this.opts.say(`applied ${objects.length} generated objects (policies, CGUs, addon) to the hub`);
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
      identity: "demo",
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
    this.hub = { controller, server, abort };
    const addr = await server.listen();
    this.hubRun = controller.run(abort.signal);
    this.dashboardUrl = `http://127.0.0.1:${addr.port}/#token=${this.token}`;
  }

  private async startSpokes(): Promise<void> {
    for (const name of this.spokeNames) {
      const cluster = this.cp!.cluster(name);
      const sysroot = await makeSysroot(FROM_VERSION, { hostname: name });
      const api = new KubeApi(loadKubeconfig(cluster.info.kubeconfig));
      const sandbox = new SandboxNode(sysroot, api, {
        insecureRegistries: [this.registry!.host],
        imageStoreRoot: mkdtempSync(join(this.work, `store-${name}-`)),
        ...(this.opts.log ? { log: (l: string) => this.opts.log!(`[${name}] ${l}`) } : {}),
        hub: { api: this.hubApi!, clusterName: name },
      });
      sandbox.start();
      this.spokes.push({ name, sysroot, sandbox, api });
    }
    writeContextsKubeconfig(
      this.spokesKubeconfig,
      this.spokeNames.map(n => this.cp!.cluster(n)),
    );
  }

  /** One `ibu-gitops stage` run; fails the demo when a move is refused or fails. */
  private async stage(
    stage: string,
    contexts: readonly string[],
    extra: Partial<StageArgs> = {},
  ): Promise<void> {
    this.opts.say(
      `\n$ ibu-gitops stage ${stage} ${contexts.map(c => `--context ${c}`).join(" ")} --wait`,
    );
    const code = await runStage(
      {
        stage,
        kubeconfig: this.spokesKubeconfig,
        contexts,
        allContexts: false,
        partial: false,
        wait: true,
        timeout: "10m",
        ...extra,
      },
      s => this.opts.say(s.replace(/\n$/, "")),
      this.opts.tty ?? false,
    );
    if (code !== 0) throw new Error(`ibu-gitops stage ${stage} failed for ${contexts.join(", ")}`);
  }

  /** Group by group: Prep → Upgrade → finalize, with a cancel and a rollback on one spoke each. */
  async walk(): Promise<void> {
    const names = this.spokeNames;
    const seed = { seedImage: this.seed, seedVersion: TO_VERSION };
    const canary = names.slice(0, 1);
    const rest = names.slice(1);
    const { say } = this.opts;
    say(`\n== group canary (${canary.join(", ")}): Prep, then a cancel, then the upgrade`);
    await this.stage("Prep", canary, seed);
    say(`-- cancel on ${canary[0]}: back to Idle, the new stateroot and precached images go`);
    await this.stage("Idle", canary);
    await this.stage("Prep", canary, seed);
    await this.stage("Upgrade", canary);
    await this.stage("Idle", canary); // finalize
    const rollbackOn = rest.at(-1) ?? canary[0]!;
    if (rest.length) {
      say(`\n== group wave-1 (${rest.join(", ")}): Prep, Upgrade`);
      await this.stage("Prep", rest, seed);
      await this.stage("Upgrade", rest);
    } else {
      await this.stage("Prep", canary, seed);
      await this.stage("Upgrade", canary);
    }
    say(`-- rollback on ${rollbackOn}: back to ${FROM_VERSION}, then upgraded again`);
    await this.stage("Rollback", [rollbackOn]);
    await this.stage("Idle", [rollbackOn]); // finalize the rollback
    await this.stage("Prep", [rollbackOn], seed);
    await this.stage("Upgrade", [rollbackOn]);
    say(`\n== finalize: every spoke keeps ${TO_VERSION}`);
    await this.stage("Idle", rest.length ? rest : canary);
    await this.waitReportsIdle();
  }

  /** Until every spoke's report says Idle and no cluster has auto-import disabled. */
  private async waitReportsIdle(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = this.hub!.controller.summary();
      if (s.byStageState.Idle?.Idle === this.spokes.length && s.autoImportDisabled === 0) return;
      if (Date.now() > deadline)
        throw new Error(`the hub did not see every spoke Idle: ${JSON.stringify(s.byStageState)}`);
      await new Promise(r => setTimeout(r, 250));
    }
  }

  /** The hub controller's view: the counts and every cluster, as `ibu-gitops status` shows them. */
  hubSummary(): { summary: FleetSummary; clusters: ClusterSummary[] } {
    const c = this.hub!.controller;
    return { summary: c.summary(), clusters: [...c.fleet.summaries(Date.now(), c.stuckAfterMs)] };
  }

  /** Facts from the running system: each spoke's node and IBU, the hub's annotation and counts. */
  async result(): Promise<DemoResult> {
    const spokes = [];
    for (const s of this.spokes) {
      const ibu = await s.api.get<Ibu>(`${IBU_PATH}/upgrade`);
      const mc = await this.hubApi!.get<{ metadata: { annotations?: Record<string, string> } }>(
        `/apis/cluster.open-cluster-management.io/v1/managedclusters/${s.name}`,
      );
      spokes.push({
        name: s.name,
        booted: bootedDeployment(s.sysroot.ostree, new SandboxBoot(s.sysroot.dir, () => undefined))
          ?.stateroot,
        stateroots: s.sysroot.ostree.stateroots(),
        idle: !!ibu?.status?.conditions?.some(c => c.type === "Idle" && c.status === "True"),
        autoImportDisabled: mc?.metadata.annotations?.[DISABLE_AUTO_IMPORT] !== undefined,
      });
    }
    const port = new URL(this.dashboardUrl).port;
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/summary`, {
      headers: { Authorization: `Bearer ${this.token}` },
    });
    const page = await fetch(`http://127.0.0.1:${port}/`);
    return {
      spokes,
      summary: await res.json(),
      dashboardPage: page.status,
      ...this.resources(),
    };
  }

  /** The processes and folders the demo made so far (all gone after stop()). */
  resources(): Pick<DemoResult, "pids" | "dirs"> {
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
    await this.hubRun?.catch(() => undefined);
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
