// Shared by the hub controller and dashboard tests (test/integration/hub-controller.test.ts,
// dashboard.test.ts) and their benchmarks (test/bench/hub.ts, dashboard.ts): clusters and
// reports on a real hub apiserver, written the way the spoke agent writes them (LCA's conditions
// from the agent's stage machine), the auto-import annotation and our Events, CGUs, ServiceAccount
// tokens from the TokenRequest API, a hub controller and server in-process with the dashboard
// mounted, and Debian's Chromium driven by playwright-core.
import { existsSync } from "node:fs";
import { serviceAccountToken } from "../../src/sandbox/cluster.js";
import { chromium, type Browser } from "playwright-core";
import type { Condition, Stage, StageHistory } from "../../addon/agent/ibu-types.js";
import {
  completeStage,
  idleConditions,
  nowTimestamp,
  requestTransition,
  startStage,
  stopStage,
  validNextStages,
} from "../../addon/agent/stage-machine.js";
import { MANAGED_CLUSTERS, REPORTING_CONTROLLER } from "../../addon/hub/autoimport.js";
import { Authorizer } from "../../addon/hub/auth.js";
import { HubController, type HubControllerOptions } from "../../addon/hub/controller.js";
import { mountDashboard } from "../../addon/hub/dashboard/assets.js";
import { HubServer } from "../../addon/hub/server.js";
import { KubeApi, sleep } from "../../addon/shared/kube.js";
import {
  DISABLE_AUTO_IMPORT,
  autoRolledBack,
  reportPath,
  stageMessage,
  stageState,
  type ClusterUpgrade,
  type Report,
} from "../../addon/shared/report.js";
import type { TestCluster } from "./cluster.js";

export const RUN_LABEL = "ibu-gitops.dev/test-run";
export const CHROMIUM = "/usr/bin/chromium";
/**
 * Debian's Chromium on this machine's closed network (.library/env/machines/go.md): without the
 * background-networking flags it keeps trying Google's hosts. playwright-core's launch() adds
 * --headless and a fresh temporary --user-data-dir itself.
 */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: \`sudo scripts/install-deps.sh\` installs Debian's chromium package`,
    );
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, timeout: 60_000 });
}

/** One spoke's IBU as LCA's stage machine moves it, and the report its agent writes. */
export class Spoke {
  conditions: Condition[] = idleConditions(nowTimestamp());
  history: StageHistory[] = [];
  stage: Stage = "Idle";
  afterPivot = false;
  /** The stateroot the node runs: the new one from the pivot on, until a rollback. */
  booted = "rhcos_4.17.0";
  sequence = 0;
  /** Fields that replace what the stage machine gives (a message, a state, node facts). */
  override: Partial<Report> = {};
  constructor(readonly name: string) {}

  /** The spec moves; the agent has not picked it up yet. */
  spec(stage: Stage): this {
    this.stage = stage;
    return this;
  }

  /** The agent accepts the move (LCA's conditions), as after spec(stage). */
  request(stage: Stage): this {
    const r = requestTransition(this.conditions, stage, this.afterPivot, nowTimestamp());
    if (!r.accepted) throw new Error(`${this.name}: ${stage} refused`);
    this.conditions = r.conditions;
    this.stage = stage;
    if (stage !== "Idle") this.history = startStage(this.history, stage, nowTimestamp());
    return this;
  }

  complete(stage: "Prep" | "Upgrade" | "Rollback"): this {
    this.conditions = completeStage(this.conditions, stage, nowTimestamp());
    this.history = stopStage(this.history, stage, nowTimestamp());
    if (stage === "Rollback") {
      this.afterPivot = false; // back on the old stateroot
      this.booted = "rhcos_4.17.0";
    }
    return this;
  }

  pivot(): this {
    this.afterPivot = true;
    this.booted = "rhcos_4.18.1";
    return this;
  }

  /** An abort or finalize finished: Idle=True, history cleared; the node keeps its stateroot. */
  idle(): this {
    this.conditions = idleConditions(nowTimestamp());
    this.history = [];
    this.afterPivot = false;
    this.stage = "Idle";
    return this;
  }

  /** Moves every condition and history time `ms` into the past (a cluster with no progress). */
  age(ms: number): this {
    const back = (t: string | undefined): string | undefined =>
      t ? new Date(Date.parse(t) - ms).toISOString().replace(/\.\d{3}Z$/, "Z") : t;
    this.conditions = this.conditions.map(c => ({
      ...c,
      lastTransitionTime: back(c.lastTransitionTime)!,
    }));
    this.history = this.history.map(h => ({
      ...h,
      startTime: back(h.startTime),
      completionTime: back(h.completionTime),
      phases: h.phases.map(p => ({
        ...p,
        startTime: back(p.startTime),
        completionTime: back(p.completionTime),
      })),
    }));
    return this;
  }

  report(): Report {
    const ibu = {
      spec: {
        stage: this.stage,
        seedImageRef: { image: "r.example.com/seed:4.18.1", version: "4.18.1" },
      },
      status: {
        conditions: this.conditions,
        history: this.history,
        validNextStages: validNextStages(this.conditions, this.afterPivot, this.stage),
      },
    };
    return {
      clusterName: this.name,
      agentVersion: "test",
      reportTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      sequence: ++this.sequence,
      stage: this.stage,
      state: stageState(ibu),
      message: stageMessage(ibu),
      autoRolledBack: autoRolledBack(ibu),
      ibu,
      node: {
        bootedStateroot: this.booted,
        stateroots: this.stage === "Idle" ? [this.booted] : ["rhcos_4.17.0", "rhcos_4.18.1"],
      },
      ...this.override,
    };
  }
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await sleep(100);
  }
}

/** Runs `fn` over `items` with at most `n` at once. */
export async function pool<T>(
  items: readonly T[],
  n: number,
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i]!, i);
      }
    }),
  );
}

/** Test access to one hub: clusters, reports, annotations, Events, groups, ServiceAccount tokens. */
export class Hub {
  readonly api: KubeApi;
  constructor(readonly cluster: TestCluster) {
    this.api = new KubeApi(cluster.kubeConfig());
  }

  async namespace(name: string): Promise<void> {
    await this.api.create("/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name },
    });
  }

  async addCluster(
    name: string,
    labels: Record<string, string>,
    annotations: Record<string, string> = {},
  ): Promise<void> {
    await this.namespace(name);
    await this.api.create(MANAGED_CLUSTERS, {
      apiVersion: "cluster.open-cluster-management.io/v1",
      kind: "ManagedCluster",
      metadata: { name, labels, annotations },
      spec: { hubAcceptsClient: true },
    });
  }

  /**
   * A CGU labelled with its group, selecting `clusters`, and its status as TALM writes it:
   * batches of `maxConcurrency` in `status.remediationPlan`, batch `currentBatch` in progress.
   */
  async group(
    name: string,
    group: string,
    clusters: string[],
    maxConcurrency = 100,
    currentBatch = 1,
  ): Promise<void> {
    const base = "/apis/ran.openshift.io/v1alpha1/namespaces/default/clustergroupupgrades";
    await this.api.create(base, {
      apiVersion: "ran.openshift.io/v1alpha1",
      kind: "ClusterGroupUpgrade",
      metadata: { name, labels: { "ibu-gitops.dev/group": group } },
      spec: { clusters, remediationStrategy: { maxConcurrency } },
    });
    const plan: string[][] = [];
    for (let i = 0; i < clusters.length; i += maxConcurrency)
      plan.push(clusters.slice(i, i + maxConcurrency));
    await this.api.mergePatch(`${base}/${name}/status`, {
      status: {
        remediationPlan: plan,
        status: { currentBatch },
        conditions: [
          {
            type: "Progressing",
            status: "True",
            reason: "InProgress",
            message: "Remediating non-compliant policies",
            lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
          },
        ],
      },
    });
  }

  /** Writes the report as the agent does; resolves with its resourceVersion. */
  async write(spoke: Spoke): Promise<string> {
    const obj: ClusterUpgrade = {
      apiVersion: "ibu-gitops.dev/v1alpha1",
      kind: "ClusterUpgrade",
      metadata: { name: "upgrade", namespace: spoke.name },
      report: spoke.report(),
    };
    const path = reportPath(spoke.name);
    const existing = await this.api.get<ClusterUpgrade>(path);
    const written = existing
      ? await this.api.replace<ClusterUpgrade>(path, {
          ...obj,
          metadata: { ...obj.metadata, resourceVersion: existing.metadata.resourceVersion },
        })
      : await this.api.create<ClusterUpgrade>(reportPath(spoke.name, ""), obj);
    return written.metadata.resourceVersion!;
  }

  async annotation(name: string): Promise<string | undefined> {
    const mc = await this.api.get<{ metadata: { annotations?: Record<string, string> } }>(
      `${MANAGED_CLUSTERS}/${name}`,
    );
    return mc?.metadata.annotations?.[DISABLE_AUTO_IMPORT];
  }

  /** Sets or removes the annotation as TALM's CGU actions do; resolves with the resourceVersion. */
  async setAnnotation(name: string, value: string | null): Promise<string> {
    const mc = await this.api.mergePatch<{ metadata: { resourceVersion: string } }>(
      `${MANAGED_CLUSTERS}/${name}`,
      { metadata: { annotations: { [DISABLE_AUTO_IMPORT]: value } } },
    );
    return mc.metadata.resourceVersion;
  }

  /** The reasons of our Events about `name`, oldest first. */
  async events(name: string): Promise<string[]> {
    const all = await this.api.list<{
      reason: string;
      reportingController: string;
      eventTime: string;
      regarding: { name: string; kind: string };
    }>("/apis/events.k8s.io/v1/namespaces/default/events");
    return all
      .filter(e => e.regarding.name === name && e.reportingController === REPORTING_CONTROLLER)
      .sort((a, b) => a.eventTime.localeCompare(b.eventTime))
      .map(e => e.reason);
  }

  /** A ServiceAccount token from the TokenRequest API (the apiserver signs it). */
  async saToken(ns: string, name: string): Promise<string> {
    await this.api.create(`/api/v1/namespaces/${ns}/serviceaccounts`, {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name },
    });
    return serviceAccountToken(this.api, ns, name);
  }

  /**
   * Lets ServiceAccount `ns/name` read the hub API (list clusterupgrades everywhere), and
   * whatever `extraRules` allow besides.
   */
  async grantReader(ns: string, name: string, extraRules: object[] = []): Promise<void> {
    const role = `${ns}-${name}`;
    await this.api.create("/apis/rbac.authorization.k8s.io/v1/clusterroles", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: role },
      rules: [
        {
          apiGroups: ["ibu-gitops.dev"],
          resources: ["clusterupgrades"],
          verbs: ["get", "list", "watch"],
        },
        ...extraRules,
      ],
    });
    await this.api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: role },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role },
      subjects: [{ kind: "ServiceAccount", name, namespace: ns }],
    });
  }
}

/** A hub controller and its server with the dashboard, in this process. */
export async function startHub(
  opts: HubControllerOptions,
): Promise<{ c: HubController; server: HubServer; stop: () => Promise<void> }> {
  const c = new HubController(opts);
  const abort = new AbortController();
  const running = c.run(abort.signal);
  const server = new HubServer({
    controller: c,
    authorizer: new Authorizer(opts.api),
    listen: "127.0.0.1:0",
  });
  mountDashboard(server);
  await server.listen();
  return {
    c,
    server,
    stop: async () => {
      await server.close();
      abort.abort();
      await running;
    },
  };
}
