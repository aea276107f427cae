// The hub controller against a real hub apiserver: the auto-import annotation lifecycle in
// every flow (reports written as an agent writes them, with LCA's conditions from the stage
// machine), Events per change and none twice across restarts, leader election, the JSON API
// with TokenReview/SubjectAccessReview authentication, the event stream, an apiserver restart
// under the running controller, and 3,500 clusters' reports counted exactly.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Condition, StageHistory } from "../../addon/agent/ibu-types.js";
import { Authorizer } from "../../addon/hub/auth.js";
import {
  HubController,
  LEASE_NAME,
  type HubControllerOptions,
} from "../../addon/hub/controller.js";
import { HubServer } from "../../addon/hub/server.js";
import { leasePath } from "../../addon/shared/lease.js";
import { DISABLE_AUTO_IMPORT } from "../../addon/shared/report.js";
import { ControlPlane } from "../support/controlplane.js";
import { loadOwnCrds, loadThirdPartyCrds } from "../support/crds.js";
import { Hub, RUN_LABEL, Spoke, pool, waitFor } from "../support/hub-fixture.js";
import { sharedCluster, uniqueName } from "../support/shared.js";

/** Starts a controller; `stop()` aborts it and waits until it has stopped. */
function startController(opts: HubControllerOptions): {
  c: HubController;
  stop: () => Promise<void>;
} {
  const c = new HubController(opts);
  const abort = new AbortController();
  const running = c.run(abort.signal);
  return {
    c,
    stop: async () => {
      abort.abort();
      await running;
    },
  };
}

/** Waits until the controller has seen report `rv` of `name` and finished the work it causes. */
async function seen(c: HubController, name: string, rv: string): Promise<void> {
  await waitFor(`${name} report ${rv} seen`, () => c.fleet.reports.get(name)?.rv === rv);
  await c.settled();
}

const DISABLED = "AutoImportDisabled";
const ENABLED = "AutoImportEnabled";

describe("hub controller: the auto-import annotation", () => {
  const hub = new Hub(sharedCluster("hub"));
  const run = uniqueName("hubrun");
  let ctl: ReturnType<typeof startController>;
  const spoke = async (
    suffix: string,
    annotations: Record<string, string> = {},
  ): Promise<Spoke> => {
    const s = new Spoke(`${run}-${suffix}`);
    await hub.addCluster(s.name, { [RUN_LABEL]: run }, annotations);
    return s;
  };
  /** Writes the report and waits for the controller to act on it. */
  const step = async (s: Spoke): Promise<void> => seen(ctl.c, s.name, await hub.write(s));

  beforeAll(() => {
    ctl = startController({
      api: hub.api,
      namespace: "default",
      clusterSelector: `${RUN_LABEL}=${run}`,
      watch: { maxBackoffSeconds: 2 },
    });
  });
  afterAll(async () => ctl?.stop());

  it("Prep → Upgrade → finalize: disabled when Upgrade is requested, enabled when it completed", async () => {
    const s = await spoke("full");
    await step(s);
    await step(s.request("Prep"));
    await step(s.complete("Prep"));
    expect(await hub.annotation(s.name)).toBeUndefined();
    await step(s.spec("Upgrade")); // requested, not picked up yet
    expect(await hub.annotation(s.name)).toBe("true");
    await step(s.request("Upgrade"));
    await step(s.pivot());
    expect(await hub.annotation(s.name)).toBe("true");
    await step(s.complete("Upgrade"));
    expect(await hub.annotation(s.name)).toBeUndefined();
    await step(s.request("Idle")); // finalizing
    await step(s.idle());
    expect(await hub.annotation(s.name)).toBeUndefined();
    expect(await hub.events(s.name)).toEqual([DISABLED, ENABLED]);
  });

  it("never removes the annotation between PrepCompleted and the start of Upgrade", async () => {
    const s = await spoke("talm");
    await step(s.request("Prep"));
    await step(s.complete("Prep"));
    // TALM's Upgrade CGU adds the annotation before it enables the batch
    const rv = await hub.setAnnotation(s.name, "true");
    await waitFor("annotation seen", () => ctl.c.fleet.managed.get(s.name)?.resourceVersion === rv);
    await ctl.c.settled();
    await step(s); // another report, same state
    ctl.c.sweep();
    await ctl.c.settled();
    expect(await hub.annotation(s.name)).toBe("true");
    await step(s.spec("Upgrade"));
    await step(s.request("Upgrade"));
    expect(await hub.annotation(s.name)).toBe("true");
    expect(await hub.events(s.name)).toEqual([]); // no change was needed
  });

  it("cancel after Prep: the annotation TALM left goes once the IBU is Idle again", async () => {
    const s = await spoke("cancel-prep");
    await step(s.request("Prep"));
    await step(s.complete("Prep"));
    await hub.setAnnotation(s.name, "true");
    await step(s.request("Idle")); // aborting
    expect(await hub.annotation(s.name)).toBe("true");
    await step(s.idle());
    expect(await hub.annotation(s.name)).toBeUndefined();
    expect(await hub.events(s.name)).toEqual([ENABLED]);
  });

  it("cancel during Upgrade before the pivot: kept while aborting, removed at Idle", async () => {
    const s = await spoke("cancel-upgrade");
    await step(s.request("Prep"));
    await step(s.complete("Prep"));
    await step(s.request("Upgrade"));
    expect(await hub.annotation(s.name)).toBe("true");
    await step(s.request("Idle")); // abort before the pivot: UpgradeInProgress stays True meanwhile
    expect(await hub.annotation(s.name)).toBe("true");
    await step(s.idle());
    expect(await hub.annotation(s.name)).toBeUndefined();
    expect(await hub.events(s.name)).toEqual([DISABLED, ENABLED]);
  });

  it("Rollback → finalize: kept through the rollback, removed when it completed", async () => {
    const s = await spoke("rollback");
    await step(s.request("Prep"));
    await step(s.complete("Prep"));
    await step(s.request("Upgrade"));
    await step(s.pivot());
    expect(await hub.annotation(s.name)).toBe("true");
    await step(s.request("Rollback"));
    expect(await hub.annotation(s.name)).toBe("true");
    await step(s.complete("Rollback"));
    expect(await hub.annotation(s.name)).toBeUndefined();
    await step(s.request("Idle"));
    await step(s.idle());
    expect(await hub.annotation(s.name)).toBeUndefined();
    expect(await hub.events(s.name)).toEqual([DISABLED, ENABLED]);
  });

  it("a cluster left Idle with the annotation (a CGU timed out on it) gets it removed", async () => {
    const s = await spoke("timedout", { [DISABLE_AUTO_IMPORT]: "true" });
    await step(s);
    await waitFor("annotation removed", async () => (await hub.annotation(s.name)) === undefined);
    const events = await waitFor("Event", async () => {
      const e = await hub.events(s.name);
      return e.length ? e : undefined;
    });
    expect(events).toEqual([ENABLED]);
    expect(await ctl.c.metrics.render()).toMatch(
      /ibu_gitops_autoimport_actions_total\{action="enable"\} \d+/,
    );
  });

  it("puts the annotation back when someone removes it mid-upgrade", async () => {
    const s = await spoke("tamper");
    await step(s.request("Prep"));
    await step(s.complete("Prep"));
    await step(s.request("Upgrade"));
    await hub.setAnnotation(s.name, null);
    await waitFor("annotation restored", async () => (await hub.annotation(s.name)) === "true");
    // The Event follows the patch: wait until the controller's work is done before reading them.
    await ctl.c.settled();
    expect(await hub.events(s.name)).toEqual([DISABLED, DISABLED]);
  });
});

describe("hub controller: restarts and leader election", () => {
  const hub = new Hub(sharedCluster("hub"));

  it("killed and restarted mid-rollout, converges with no duplicate Events", async () => {
    const run = uniqueName("hubkill");
    const spokes = Array.from({ length: 8 }, (_, i) => new Spoke(`${run}-${i}`));
    for (const s of spokes) await hub.addCluster(s.name, { [RUN_LABEL]: run });
    for (const s of spokes) {
      s.request("Prep").complete("Prep").request("Upgrade");
    }
    const opts: HubControllerOptions = {
      api: hub.api,
      namespace: "default",
      clusterSelector: `${RUN_LABEL}=${run}`,
      concurrency: 2,
    };
    const first = startController(opts);
    await Promise.all(spokes.map(s => hub.write(s)));
    // killed as soon as the first annotation is written
    await waitFor("a first annotation", async () =>
      (await Promise.all(spokes.map(s => hub.annotation(s.name)))).some(a => a === "true"),
    );
    await first.stop();
    const second = startController(opts);
    await waitFor("all annotated", async () =>
      (await Promise.all(spokes.map(s => hub.annotation(s.name)))).every(a => a === "true"),
    );
    await second.c.settled();
    // the upgrades complete while no controller runs
    await second.stop();
    for (const s of spokes) await hub.write(s.pivot().complete("Upgrade"));
    const third = startController(opts);
    await waitFor("all enabled", async () =>
      (await Promise.all(spokes.map(s => hub.annotation(s.name)))).every(a => a === undefined),
    );
    await third.c.settled();
    await third.stop();
    // a restart with nothing to do writes nothing
    const fourth = startController(opts);
    await waitFor("ready", () => fourth.c.ready);
    fourth.c.sweep();
    await fourth.c.settled();
    await fourth.stop();
    for (const s of spokes) expect(await hub.events(s.name), s.name).toEqual([DISABLED, ENABLED]);
  });

  it("only the leader writes; a successor takes over when it stops", async () => {
    const run = uniqueName("hublead");
    const ns = uniqueName("hub-lease");
    await hub.api.create("/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns },
    });
    const opts = (identity: string): HubControllerOptions => ({
      api: hub.api,
      namespace: ns,
      identity,
      leaderElect: true,
      clusterSelector: `${RUN_LABEL}=${run}`,
    });
    const a = startController(opts("replica-a"));
    const b = startController(opts("replica-b"));
    try {
      const leader = await waitFor("a leader", () =>
        a.c.isLeader ? a : b.c.isLeader ? b : undefined,
      );
      const other = leader === a ? b : a;
      expect(other.c.isLeader).toBe(false);
      expect(await leader.c.metrics.render()).toContain("ibu_gitops_leader 1");
      expect(await other.c.metrics.render()).toContain("ibu_gitops_leader 0");
      const lease = await hub.api.get<{ spec: { holderIdentity: string; renewTime: string } }>(
        leasePath(ns, LEASE_NAME),
      );
      expect(lease?.spec.holderIdentity).toBe(leader.c.identity);
      expect(lease?.spec.renewTime).toMatch(/\.\d{6}Z$/);

      const s1 = new Spoke(`${run}-1`);
      await hub.addCluster(s1.name, { [RUN_LABEL]: run });
      await hub.write(s1.request("Prep").complete("Prep").request("Upgrade"));
      await waitFor("annotated", async () => (await hub.annotation(s1.name)) === "true");
      // both replicas see the report; the follower serves it but wrote nothing
      await waitFor("follower saw it", () => other.c.fleet.reports.has(s1.name));
      await Promise.all([a.c.settled(), b.c.settled()]);
      expect(await hub.events(s1.name)).toEqual([DISABLED]);

      await leader.stop(); // releases the Lease
      await waitFor("successor", () => other.c.isLeader, 20_000);
      await hub.write(s1.pivot().complete("Upgrade"));
      await waitFor(
        "enabled by the successor",
        async () => (await hub.annotation(s1.name)) === undefined,
      );
      expect(await hub.events(s1.name)).toEqual([DISABLED, ENABLED]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

describe("hub API", () => {
  const hub = new Hub(sharedCluster("hub"));
  const run = uniqueName("hubapi");
  const ns = uniqueName("hub-api");
  let ctl: ReturnType<typeof startController>;
  let server: HubServer;
  let reader = "";
  let nobody = "";
  let authorizer: Authorizer;

  const get = (path: string, headers: Record<string, string> = {}): Promise<Response> =>
    fetch(`${server.url}${path}`, { headers });
  const bearer = (t: string): Record<string, string> => ({ Authorization: `Bearer ${t}` });

  beforeAll(async () => {
    await hub.namespace(ns);
    reader = await hub.saToken(ns, "reader");
    nobody = await hub.saToken(ns, "nobody");
    await hub.grantReader(ns, "reader", [{ nonResourceURLs: ["/metrics"], verbs: ["get"] }]);
    ctl = startController({ api: hub.api, namespace: ns, clusterSelector: `${RUN_LABEL}=${run}` });
    authorizer = new Authorizer(hub.api);
    server = new HubServer({
      controller: ctl.c,
      authorizer,
      listen: "127.0.0.1:0",
      summaryIntervalMs: 500,
      heartbeatMs: 300,
    });
    await server.listen();
    // a small fleet: two groups by a CGU's cluster list and a label selector
    const spokes = [
      new Spoke(`${run}-a1`).request("Prep"),
      new Spoke(`${run}-a2`).request("Prep").complete("Prep"),
      new Spoke(`${run}-b1`).request("Prep").complete("Prep").request("Upgrade"),
      new Spoke(`${run}-b2`),
    ];
    for (const s of spokes)
      await hub.addCluster(s.name, {
        [RUN_LABEL]: run,
        ...(/-b\d$/.test(s.name) ? { [`${run}-site`]: "b" } : {}),
      });
    await hub.api.create(
      "/apis/ran.openshift.io/v1alpha1/namespaces/default/clustergroupupgrades",
      {
        apiVersion: "ran.openshift.io/v1alpha1",
        kind: "ClusterGroupUpgrade",
        metadata: { name: `${run}-a`, labels: { "ibu-gitops.dev/group": "group-a" } },
        spec: { clusters: [`${run}-a1`, `${run}-a2`], remediationStrategy: { maxConcurrency: 1 } },
      },
    );
    await hub.api.create(
      "/apis/ran.openshift.io/v1alpha1/namespaces/default/clustergroupupgrades",
      {
        apiVersion: "ran.openshift.io/v1alpha1",
        kind: "ClusterGroupUpgrade",
        metadata: { name: `${run}-b`, labels: { "ibu-gitops.dev/group": "group-b" } },
        spec: {
          clusterLabelSelectors: [{ matchLabels: { [`${run}-site`]: "b" } }],
          remediationStrategy: { maxConcurrency: 1 },
        },
      },
    );
    for (const s of spokes) await hub.write(s);
    await waitFor(
      "fleet seen",
      () => spokes.every(s => ctl.c.fleet.reports.has(s.name)) && ctl.c.ready,
    );
    await waitFor(
      "groups seen",
      () => ctl.c.fleet.summary(`${run}-b2`, Date.now(), 1)?.group === "group-b",
    );
    await ctl.c.settled();
  });
  afterAll(async () => {
    await server?.close();
    await ctl?.stop();
  });

  it("answers 401 without or with a bad token, 403 without RBAC, 200 with it", async () => {
    expect((await get("/healthz")).status).toBe(200);
    expect((await get("/readyz")).status).toBe(200);
    const none = await get("/api/v1/summary");
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/Bearer/);
    expect((await get("/api/v1/summary", bearer("not-a-token"))).status).toBe(401);
    const denied = await get("/api/v1/summary", bearer(nobody));
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: string }).error).toMatch(
      /nobody may not list clusterupgrades/,
    );
    expect((await get("/metrics", bearer(nobody))).status).toBe(403);
    const ok = await get("/api/v1/summary", bearer(reader));
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("application/json");
    const proxied = await get("/api/v1/clusters", { "X-Forwarded-Access-Token": reader });
    expect(proxied.status).toBe(200);
    const metrics = await get("/metrics", bearer(reader));
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get("content-type")).toMatch(/^text\/plain; version=0.0.4/);
    expect(await metrics.text()).toContain(
      'ibu_gitops_clusters{stage="Prep",state="InProgress"} 1',
    );
    // verdicts are cached: repeating the calls sends no more reviews
    const reviews = authorizer.reviews;
    for (let i = 0; i < 5; i++) {
      await get("/api/v1/summary", bearer(reader));
      await get("/api/v1/summary", bearer(nobody));
      await get("/api/v1/summary", bearer("not-a-token"));
    }
    expect(authorizer.reviews).toBe(reviews);
  });

  it("lists clusters sorted, filtered and paged; shows one cluster in full", async () => {
    const list = async (
      q: string,
    ): Promise<{
      items: Array<{ name: string; group?: string }>;
      metadata: { continue?: string; remainingItemCount: number };
    }> => {
      const res = await get(`/api/v1/clusters${q}`, bearer(reader));
      expect(res.status).toBe(200);
      return (await res.json()) as never;
    };
    expect((await list("")).items.map(c => c.name)).toEqual(
      ["a1", "a2", "b1", "b2"].map(x => `${run}-${x}`),
    );
    expect((await list("?stage=Prep&state=InProgress")).items.map(c => c.name)).toEqual([
      `${run}-a1`,
    ]);
    expect((await list("?group=group-b")).items.map(c => c.name)).toEqual([
      `${run}-b1`,
      `${run}-b2`,
    ]);
    expect((await list(`?name=${run}-a`)).items).toHaveLength(2);
    const p1 = await list("?limit=3");
    expect(p1.items).toHaveLength(3);
    expect(p1.metadata.remainingItemCount).toBe(1);
    const p2 = await list(`?limit=3&continue=${p1.metadata.continue}`);
    expect(p2.items.map(c => c.name)).toEqual([`${run}-b2`]);
    expect((await get("/api/v1/clusters?limit=abc", bearer(reader))).status).toBe(400);
    expect((await get("/api/v1/clusters?continue=%21", bearer(reader))).status).toBe(400);

    const res = await get(`/api/v1/clusters/${run}-b1`, bearer(reader));
    expect(res.status).toBe(200);
    const d = (await res.json()) as Record<string, any>;
    expect(d).toMatchObject({
      name: `${run}-b1`,
      stage: "Upgrade",
      state: "InProgress",
      group: "group-b",
      upgrade: `default/${run}-b`,
      autoImportDisabled: true,
      autoImport: { annotation: "true", intent: "Disable", reason: "Upgrade in progress" },
      validNextStages: ["Idle"],
      node: { bootedStateroot: "rhcos_4.17.0" },
    });
    expect(d.conditions.map((c: Condition) => c.type)).toContain("UpgradeInProgress");
    expect(d.history.map((h: StageHistory) => h.stage)).toEqual(["Prep", "Upgrade"]);
    expect((await get(`/api/v1/clusters/${run}-nope`, bearer(reader))).status).toBe(404);
    expect((await get("/api/v1/nope", bearer(reader))).status).toBe(404);
  });

  it("summarizes per stage, state and group", async () => {
    const res = await get("/api/v1/summary", bearer(reader));
    const sum = (await res.json()) as Record<string, any>;
    expect(sum).toMatchObject({
      total: 4,
      reported: 4,
      byStage: { Prep: 2, Upgrade: 1, Idle: 1 },
      byState: { InProgress: 2, Completed: 1, Idle: 1 },
      byGroup: {
        "group-a": { total: 2, byStage: { Prep: 2 } },
        "group-b": { total: 2, byStage: { Upgrade: 1, Idle: 1 } },
      },
      autoImportDisabled: 1,
      failed: { count: 0, clusters: [] },
      leader: true,
    });
  });

  it("streams a summary, then each cluster change, with heartbeats", async () => {
    const ac = new AbortController();
    const res = await fetch(`${server.url}/api/v1/events`, {
      headers: bearer(reader),
      signal: ac.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader_ = res.body!.getReader();
    let text = "";
    const until = async (re: RegExp): Promise<void> => {
      const deadline = Date.now() + 20_000;
      while (!re.test(text)) {
        if (Date.now() > deadline) throw new Error(`no ${re} in stream:\n${text.slice(-2000)}`);
        const { value, done } = await reader_.read();
        if (done) throw new Error("stream ended");
        text += Buffer.from(value).toString();
      }
    };
    try {
      await until(/event: summary\ndata: \{"total":4/);
      const s = new Spoke(`${run}-b2`);
      await hub.write(s.request("Prep"));
      await until(
        new RegExp(
          `event: cluster\\ndata: \\{"name":"${run}-b2","stage":"Prep","state":"InProgress"`,
        ),
      );
      await until(/: heartbeat/);
    } finally {
      ac.abort();
    }
    expect((await get("/api/v1/events")).status).toBe(401);
  });
});

describe("hub controller on a private hub", () => {
  let cp: ControlPlane;
  let hub: Hub;

  beforeAll(async () => {
    cp = await ControlPlane.start({ clusters: ["hub"] });
    const crds = [...(await loadThirdPartyCrds()), ...loadOwnCrds()];
    await cp.cluster("hub").installCrdSet(crds, "hub");
    hub = new Hub(cp.cluster("hub"));
  }, 180_000);
  afterAll(async () => cp?.stop());

  it("resumes its watches after the hub apiserver restarts", async () => {
    const run = uniqueName("hubrestart");
    const s = new Spoke(`${run}-1`);
    await hub.addCluster(s.name, { [RUN_LABEL]: run });
    const ctl = startController({
      api: hub.api,
      namespace: "default",
      clusterSelector: `${RUN_LABEL}=${run}`,
      watch: { maxBackoffSeconds: 1 },
    });
    try {
      await hub.write(s.request("Prep").complete("Prep").request("Upgrade"));
      await waitFor("annotated", async () => (await hub.annotation(s.name)) === "true");
      await cp.restartCluster("hub");
      await hub.write(s.pivot().complete("Upgrade"));
      await waitFor(
        "enabled after the restart",
        async () => (await hub.annotation(s.name)) === undefined,
        60_000,
      );
      // and a second cluster added after the restart is picked up too
      const t = new Spoke(`${run}-2`);
      await hub.addCluster(t.name, { [RUN_LABEL]: run }, { [DISABLE_AUTO_IMPORT]: "true" });
      await hub.write(t);
      await waitFor(
        "second cluster enabled",
        async () => (await hub.annotation(t.name)) === undefined,
        60_000,
      );
      await ctl.c.settled();
      expect(await hub.events(s.name)).toEqual([DISABLED, ENABLED]);
      expect(await hub.events(t.name)).toEqual([ENABLED]);
      expect(ctl.c.ready).toBe(true);
    } finally {
      await ctl.stop();
    }
  }, 180_000);

  it("counts 3,500 clusters' reports exactly", async () => {
    const N = 3500;
    const run = uniqueName("hubload");
    const ctl = startController({
      api: hub.api,
      namespace: "default",
      clusterSelector: `${RUN_LABEL}=${run}`,
      concurrency: 16,
    });
    try {
      const names = Array.from({ length: N }, (_, i) => `${run}-${String(i).padStart(4, "0")}`);
      // per cluster: a flow picked by index, so the expected counts are known
      const flows: Array<[string, (s: Spoke) => Spoke]> = [
        ["Idle/Idle", s => s],
        ["Prep/InProgress", s => s.request("Prep")],
        ["Prep/Completed", s => s.request("Prep").complete("Prep")],
        ["Upgrade/InProgress", s => s.request("Prep").complete("Prep").request("Upgrade")],
        [
          "Upgrade/Completed",
          s => s.request("Prep").complete("Prep").request("Upgrade").pivot().complete("Upgrade"),
        ],
        [
          "Rollback/InProgress",
          s => s.request("Prep").complete("Prep").request("Upgrade").pivot().request("Rollback"),
        ],
        ["Upgrade/Pending", s => s.request("Prep").complete("Prep").spec("Upgrade")],
      ];
      const expected: Record<string, Record<string, number>> = {};
      const groupOf = (i: number): string | undefined =>
        i < 1000 ? "load-a" : i < 2000 ? "load-b" : undefined;
      await pool(names, 16, async (name, i) => {
        await hub.addCluster(name, {
          [RUN_LABEL]: run,
          ...(groupOf(i) === "load-b" ? { [`${run}-site`]: "b" } : {}),
        });
      });
      await hub.api.create(
        "/apis/ran.openshift.io/v1alpha1/namespaces/default/clustergroupupgrades",
        {
          apiVersion: "ran.openshift.io/v1alpha1",
          kind: "ClusterGroupUpgrade",
          metadata: { name: `${run}-a`, labels: { "ibu-gitops.dev/group": "load-a" } },
          spec: { clusters: names.slice(0, 1000), remediationStrategy: { maxConcurrency: 100 } },
        },
      );
      await hub.api.create(
        "/apis/ran.openshift.io/v1alpha1/namespaces/default/clustergroupupgrades",
        {
          apiVersion: "ran.openshift.io/v1alpha1",
          kind: "ClusterGroupUpgrade",
          metadata: { name: `${run}-b`, labels: { "ibu-gitops.dev/group": "load-b" } },
          spec: {
            clusterLabelSelectors: [{ matchLabels: { [`${run}-site`]: "b" } }],
            remediationStrategy: { maxConcurrency: 100 },
          },
        },
      );
      const byGroup: Record<string, number> = {};
      await pool(names, 16, async (name, i) => {
        const [key, flow] = flows[i % flows.length]!;
        const [stage, state] = key.split("/") as [string, string];
        (expected[stage] ??= {})[state] = (expected[stage]?.[state] ?? 0) + 1;
        const g = groupOf(i);
        if (g) byGroup[g] = (byGroup[g] ?? 0) + 1;
        await hub.write(flow(new Spoke(name)));
      });
      await waitFor(
        "all reports seen",
        () => ctl.c.fleet.reports.size >= N && ctl.c.ready,
        120_000,
      );
      await ctl.c.settled();
      const sum = ctl.c.summary();
      expect(sum.total).toBe(N);
      expect(sum.reported).toBe(N);
      expect(sum.byStageState).toEqual(expected);
      expect(Object.fromEntries(Object.entries(sum.byGroup).map(([g, c]) => [g, c.total]))).toEqual(
        byGroup,
      );
      expect(sum.ungrouped).toBe(N - 2000);
      // Disabled: Upgrade in progress or requested; Rollback in progress keeps what was there (none)
      const disable = names.filter((_, i) =>
        ["Upgrade/InProgress", "Upgrade/Pending"].includes(flows[i % flows.length]![0]),
      ).length;
      await waitFor("annotations", () => ctl.c.summary().autoImportDisabled === disable, 120_000);
      expect(await ctl.c.metrics.render()).toContain(
        `ibu_gitops_autoimport_actions_total{action="disable"} ${disable}\n`,
      );
    } finally {
      await ctl.stop();
    }
  }, 600_000);
});
