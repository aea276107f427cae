// Benchmark of the hub controller on a real hub apiserver with 3,500 clusters: the hub
// process's RSS and CPU (initial sync, steady state, under load), annotation action latency
// (report written → disable-auto-import annotation on the ManagedCluster, seen through a watch)
// at 100 report updates per second, and JSON API latency for /api/v1/summary and
// /api/v1/clusters. Targets: RSS < 250 MB, p95 < 1 s.
// Run: npx tsx test/bench/hub.ts [--clusters 3500] [--rate 100] [--seconds 10]
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Condition, Stage } from "../../addon/agent/ibu-types.js";
import {
  completeStage,
  idleConditions,
  nowTimestamp,
  requestTransition,
} from "../../addon/agent/stage-machine.js";
import { MANAGED_CLUSTERS } from "../../addon/hub/autoimport.js";
import { KubeApi, watchCollection, type WatchEvent } from "../../addon/shared/kube.js";
import {
  DISABLE_AUTO_IMPORT,
  reportPath,
  stageMessage,
  stageState,
  type ClusterUpgrade,
} from "../../addon/shared/report.js";
import { ControlPlane } from "../support/controlplane.js";
import { loadOwnCrds, loadThirdPartyCrds } from "../support/crds.js";
import { pool } from "../support/hub-fixture.js";
import { rssBytes } from "../support/process.js";

const { values } = parseArgs({
  options: {
    clusters: { type: "string", default: "3500" },
    rate: { type: "string", default: "100" },
    seconds: { type: "string", default: "10" },
  },
});
const N = Number(values.clusters);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const REPO = join(import.meta.dirname, "..", "..");
const LABEL = "ibu-gitops.dev/bench";

const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
const mib = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;
/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
}

function report(name: string, stage: Stage, conditions: Condition[], seq: number): ClusterUpgrade {
  const ibu = {
    spec: { stage, seedImageRef: { image: "r.example.com/seed:4.18.1", version: "4.18.1" } },
    status: {
      conditions,
      history: [
        { stage: "Prep" as const, startTime: conditions[0]?.lastTransitionTime, phases: [] },
      ],
      validNextStages: ["Idle", "Upgrade"] as Stage[],
    },
  };
  return {
    apiVersion: "ibu-gitops.dev/v1alpha1",
    kind: "ClusterUpgrade",
    metadata: { name: "upgrade", namespace: name },
    report: {
      clusterName: name,
      agentVersion: "bench",
      reportTime: nowTimestamp(),
      sequence: seq,
      stage,
      state: stageState(ibu),
      message: stageMessage(ibu),
      ibu,
      node: { bootedStateroot: "rhcos_4.17.0", stateroots: ["rhcos_4.17.0", "rhcos_4.18.1"] },
    },
  };
}

const cp = await ControlPlane.start({ clusters: ["hub"] });
let hubPid: number | undefined;
try {
  const cluster = cp.cluster("hub");
  await cluster.installCrdSet([...(await loadThirdPartyCrds()), ...loadOwnCrds()], "hub");
  const api = new KubeApi(cluster.kubeConfig());
  await api.create("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: "ibu-gitops" },
  });

  // A reader's token for the API (TokenRequest; the apiserver signs ServiceAccount tokens).
  await api.create("/api/v1/namespaces/ibu-gitops/serviceaccounts", {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: "reader" },
  });
  await api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "bench-reader" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ kind: "ServiceAccount", name: "reader", namespace: "ibu-gitops" }],
  });
  const token = (
    await api.create<{ status: { token: string } }>(
      "/api/v1/namespaces/ibu-gitops/serviceaccounts/reader/token",
      {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenRequest",
        spec: { expirationSeconds: 3600 },
      },
    )
  ).status.token;

  // The fleet: N clusters, Prep completed (so a move to Upgrade needs an annotation).
  const names = Array.from({ length: N }, (_, i) => `sno-${String(i).padStart(5, "0")}`);
  const t = nowTimestamp();
  const prepped = completeStage(
    requestTransition(idleConditions(t), "Prep", false, t).conditions,
    "Prep",
    t,
  );
  const t0 = performance.now();
  await pool(names, 24, async name => {
    await api.create("/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name },
    });
    await api.create(MANAGED_CLUSTERS, {
      apiVersion: "cluster.open-cluster-management.io/v1",
      kind: "ManagedCluster",
      metadata: { name, labels: { [LABEL]: "yes", "group-du-sno": "" } },
      spec: { hubAcceptsClient: true },
    });
    await api.create(reportPath(name, ""), report(name, "Prep", prepped, 1));
  });
  console.log(
    `loaded ${N} clusters (namespace, ManagedCluster, report) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // The hub controller as its own process, as the container runs it (through tsx here).
  const logFile = join(cp.root, "hub.log");
  const fd = openSync(logFile, "a");
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(REPO, "src", "cli", "main.ts"),
      "hub",
      "--kubeconfig",
      cluster.info.kubeconfig,
      "--namespace",
      "ibu-gitops",
      "--listen",
      "127.0.0.1:0",
      "--leader-elect",
      "--cluster-selector",
      `${LABEL}=yes`,
    ],
    { stdio: ["ignore", fd, fd] },
  );
  closeSync(fd);
  hubPid = child.pid!;
  const started = performance.now();
  let port = 0;
  while (!port) {
    const m = /on port (\d+)/.exec(readFileSync(logFile, "utf8"));
    if (m) port = Number(m[1]);
    else await new Promise(r => setTimeout(r, 50));
    if (child.exitCode !== null) throw new Error(`hub exited:\n${readFileSync(logFile, "utf8")}`);
  }
  const base = `http://127.0.0.1:${port}`;
  const get = async (path: string): Promise<unknown> => {
    const res = await fetch(`${base}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    return res.json();
  };
  for (;;) {
    const ok = await fetch(`${base}/readyz`).then(
      r => r.status === 200,
      () => false,
    );
    if (ok) {
      const s = (await get("/api/v1/summary")) as { total: number; leader: boolean };
      if (s.total === N && s.leader) break;
    }
    await new Promise(r => setTimeout(r, 100));
  }
  const syncSeconds = (performance.now() - started) / 1000;
  const cpuAfterSync = cpuSeconds(hubPid);
  console.log(
    `hub synced ${N} clusters and leads in ${syncSeconds.toFixed(1)} s (process start included); CPU ${cpuAfterSync.toFixed(1)} s; RSS ${mib(rssBytes(hubPid))}`,
  );

  // Steady state: 10 s with nothing to do.
  const c0 = cpuSeconds(hubPid);
  await new Promise(r => setTimeout(r, 10_000));
  console.log(
    `idle: CPU ${(((cpuSeconds(hubPid) - c0) / 10) * 100).toFixed(1)} %, RSS ${mib(rssBytes(hubPid))}`,
  );

  // Annotation latency at RATE updates per second: Prep completed → Upgrade requested.
  const annotatedAt = new Map<string, number>();
  const watchAbort = new AbortController();
  void watchCollection<{
    metadata: { name: string; annotations?: Record<string, string>; resourceVersion?: string };
  }>(
    api,
    `${MANAGED_CLUSTERS}?labelSelector=${encodeURIComponent(`${LABEL}=yes`)}`,
    (e: WatchEvent<{ metadata: { name: string; annotations?: Record<string, string> } }>) => {
      const objs = e.type === "RELISTED" ? e.objects : [e.object];
      for (const o of objs)
        if (o.metadata.annotations?.[DISABLE_AUTO_IMPORT] && !annotatedAt.has(o.metadata.name))
          annotatedAt.set(o.metadata.name, performance.now());
    },
    watchAbort.signal,
  );
  await new Promise(r => setTimeout(r, 1000));
  const total = Math.min(N, RATE * SECONDS);
  const writtenAt = new Map<string, number>();
  const c1 = cpuSeconds(hubPid);
  let peakRss = rssBytes(hubPid);
  const loadStart = performance.now();
  const writes: Array<Promise<void>> = [];
  for (let i = 0; i < total; i++) {
    const due = loadStart + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise(r => setTimeout(r, wait));
    const name = names[i]!;
    writes.push(
      (async () => {
        const next = report(name, "Upgrade", prepped, 2);
        const before = performance.now();
        await api.mergePatch(reportPath(name), { report: next.report }); // one write, as the agent
        writtenAt.set(name, before);
      })(),
    );
    if (i % RATE === 0) peakRss = Math.max(peakRss, rssBytes(hubPid));
  }
  await Promise.all(writes);
  const loadSeconds = (performance.now() - loadStart) / 1000;
  const deadline = performance.now() + 60_000;
  while (annotatedAt.size < total && performance.now() < deadline) {
    peakRss = Math.max(peakRss, rssBytes(hubPid));
    await new Promise(r => setTimeout(r, 100));
  }
  watchAbort.abort();
  const cpuLoad = cpuSeconds(hubPid) - c1;
  const lat = names
    .slice(0, total)
    .filter(n => annotatedAt.has(n) && writtenAt.has(n))
    .map(n => annotatedAt.get(n)! - writtenAt.get(n)!);
  console.log(
    `annotation latency at ${RATE} updates/s (${total} updates in ${loadSeconds.toFixed(1)} s; ${lat.length} annotated): ` +
      `p50 ${pct(lat, 50).toFixed(0)} ms, p95 ${pct(lat, 95).toFixed(0)} ms, max ${Math.max(...lat).toFixed(0)} ms; ` +
      `hub CPU ${((cpuLoad / loadSeconds) * 100).toFixed(0)} % of one core during the load; peak RSS ${mib(peakRss)}`,
  );

  // JSON API latency, sequential requests.
  for (const path of [
    "/api/v1/summary",
    "/api/v1/clusters",
    "/api/v1/clusters?limit=5000",
    "/api/v1/clusters?stage=Upgrade&name=sno-00",
  ]) {
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const s = performance.now();
      await get(path);
      times.push(performance.now() - s);
    }
    console.log(
      `GET ${path}: p50 ${pct(times, 50).toFixed(1)} ms, p95 ${pct(times, 95).toFixed(1)} ms`,
    );
  }
  console.log(
    `hub RSS at the end: ${mib(rssBytes(hubPid))} (node ${process.version}, through tsx)`,
  );
  child.kill("SIGTERM");
  await new Promise(r => child.once("exit", r));
  hubPid = undefined;
} finally {
  if (hubPid) process.kill(hubPid, "SIGKILL");
  await cp.stop();
}
