// Benchmark of the spoke agent on real parts: idle RSS of the agent process; latency from a
// spec.stage change to the InProgress condition (p50/p95 over 100 transitions); precache
// throughput for 100 images from a loopback registry; Prep overhead beyond the pulls (a Prep
// of a seed listing those 100 images, against the same pulls done by skopeo alone).
// Run: npx tsx test/bench/agent.ts
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IBU_PATH } from "../../addon/agent/controller.js";
import { run } from "../../addon/agent/exec.js";
import { ImageStore } from "../../addon/agent/drivers/images.js";
import type { Ibu } from "../../addon/agent/ibu-types.js";
import { buildSeed } from "../../addon/agent/seed/build.js";
import { defaultClusterInfo } from "../../addon/agent/seed/format.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { AgentProcess } from "../support/agent-process.js";
import { ControlPlane } from "../support/controlplane.js";
import { loadOwnCrds } from "../support/crds.js";
import { pushTinyImage } from "../support/images.js";
import { rssBytes } from "../support/process.js";
import { TestRegistry } from "../support/registry.js";
import { makeSysroot } from "../support/sysroot.js";

const IBU = `${IBU_PATH}/upgrade`;
const REPO = join(import.meta.dirname, "..", "..");
const N_IMAGES = 100;
const N_TRANSITIONS = 100;
const pct = (xs: number[], p: number): number =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const cond = (i: Ibu | undefined, type: string): string | undefined => {
  const c = i?.status?.conditions?.find(x => x.type === type);
  return c && `${c.status}/${c.reason}`;
};

const [cp, registry, seedCluster, spoke] = await Promise.all([
  ControlPlane.start({ clusters: ["sno"] }),
  TestRegistry.start(),
  makeSysroot("4.18.1", { hostname: "seed" }),
  makeSysroot("4.17.0"),
]);
const store = mkdtempSync(join(tmpdir(), "ibu-bench-store-"));
let agent: AgentProcess | undefined;
try {
  await cp.cluster("sno").installCrds(loadOwnCrds().map(s => s.crd));
  const api = new KubeApi(cp.cluster("sno").kubeConfig());
  const base = `${registry.host}/ocp/base:1`;
  await pushTinyImage(base);
  const images = Array.from({ length: N_IMAGES }, (_, i) => `${registry.host}/ocp/img-${i}:4.18.1`);
  await Promise.all(
    images.map(i =>
      run("skopeo", [
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        `docker://${base}`,
        `docker://${i}`,
      ]),
    ),
  );
  const seed = `${registry.host}/seeds/sno:4.18.1`;
  await buildSeed({
    sysroot: seedCluster.dir,
    version: "4.18.1",
    clusterInfo: defaultClusterInfo("4.18.1"),
    images,
    image: seed,
    tlsVerify: false,
  });

  // Precache throughput: the store's pulls alone, with the agent's parallelism.
  const direct = new ImageStore(mkdtempSync(join(tmpdir(), "ibu-bench-direct-")));
  const threads = Number(process.env.IBU_GITOPS_PULL_THREADS ?? 4);
  const queue = [...images];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: threads }, async () => {
      for (let i = queue.shift(); i; i = queue.shift()) await direct.pull(i, { tlsVerify: false });
    }),
  );
  const pullSeconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await run("skopeo", [
    "copy",
    "--quiet",
    "--src-tls-verify=false",
    `docker://${seed}`,
    `oci:${join(direct.root, "seed")}:seed`,
  ]);
  const seedPullSeconds = (performance.now() - t1) / 1000;
  rmSync(direct.root, { recursive: true, force: true });
  console.log(
    `precache throughput: ${N_IMAGES} images in ${pullSeconds.toFixed(2)} s = ${(N_IMAGES / pullSeconds).toFixed(1)} images/s (${threads} parallel pulls)`,
  );

  // The compiled agent, as the container image runs it.
  const tsc = spawnSync(
    process.execPath,
    [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", REPO],
    { encoding: "utf8" },
  );
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}`);
  agent = new AgentProcess(
    {
      kubeconfig: cp.cluster("sno").info.kubeconfig,
      sysroot: spoke.dir,
      insecureRegistries: [registry.host],
      imageStore: store,
      logFile: join(spoke.dir, "agent.log"),
      compiledMain: join(REPO, "dist", "src", "cli", "main.js"),
    },
    api,
  );
  agent.start();
  const waitFor = async (
    pred: (i: Ibu | undefined) => boolean,
    timeoutMs = 120_000,
  ): Promise<number> => {
    const start = performance.now();
    while (!pred(await api.get<Ibu>(IBU).catch(() => undefined))) {
      if (performance.now() - start > timeoutMs) throw new Error("timed out");
      await new Promise(r => setTimeout(r, 2));
    }
    return performance.now() - start;
  };
  await waitFor(i => cond(i, "Idle") === "True/Idle");
  await new Promise(r => setTimeout(r, 3000));
  console.log(
    `agent idle RSS: ${(rssBytes(agent.pid!) / 1048576).toFixed(0)} MiB (compiled, node ${process.version})`,
  );

  // Prep of the 100-image seed, against the same pulls done directly.
  const setSpec = async (spec: object): Promise<void> => {
    const cur = (await api.get<Ibu>(IBU))!;
    const res = await api.request("PUT", IBU, { ...cur, spec });
    if (res.status !== 200) throw new Error(`PUT: ${res.status}`);
  };
  await setSpec({ stage: "Prep", seedImageRef: { image: seed, version: "4.18.1" } });
  const prepMs = await waitFor(i => cond(i, "PrepCompleted") === "True/Completed");
  const overhead = prepMs / 1000 - pullSeconds - seedPullSeconds;
  console.log(
    `Prep with ${N_IMAGES} images: ${(prepMs / 1000).toFixed(2)} s; pulls alone ${(pullSeconds + seedPullSeconds).toFixed(2)} s; overhead ${overhead.toFixed(2)} s`,
  );
  await setSpec({ stage: "Idle" });
  await waitFor(i => cond(i, "Idle") === "True/Idle");

  // Latency from a stage change to the InProgress condition: Prep of a seed that does not
  // exist (it fails at once), then cancel, N times.
  const latencies: number[] = [];
  for (let n = 0; n < N_TRANSITIONS / 2; n++) {
    await setSpec({
      stage: "Prep",
      seedImageRef: { image: `${registry.host}/seeds/none:4.18.1`, version: "4.18.1" },
    });
    latencies.push(
      await waitFor(i => i?.status?.conditions?.some(c => c.type === "PrepInProgress") ?? false),
    );
    await waitFor(i => cond(i, "PrepCompleted") === "False/Failed");
    await setSpec({ stage: "Idle" });
    latencies.push(
      await waitFor(i => ["False/Aborting", "True/Idle"].includes(cond(i, "Idle") ?? "")),
    );
    await waitFor(i => cond(i, "Idle") === "True/Idle");
  }
  console.log(
    `stage change → InProgress condition over ${latencies.length} transitions: p50 ${pct(latencies, 50).toFixed(0)} ms, p95 ${pct(latencies, 95).toFixed(0)} ms`,
  );
} finally {
  await agent?.stop();
  await Promise.all([cp.stop(), registry.stop(), seedCluster.remove(), spoke.remove()]);
  rmSync(store, { recursive: true, force: true });
}
