// Benchmark of the test control plane: cold build of the binaries (with --cold: an empty Go
// build and module cache in a temp folder, as on a fresh CI machine), warm start of hub + 2
// spokes, CRD installation, and the resident memory of each kube-apiserver and of etcd.
// Run: npx tsx test/bench/controlplane.ts [--cold]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../support/controlplane.js";
import { loadOwnCrds, loadThirdPartyCrds } from "../support/crds.js";
import { rssBytes } from "../support/process.js";

const MiB = 1024 * 1024;

function coldBuild(): void {
  const scratch = mkdtempSync(join(tmpdir(), "ibu-gitops-bench-cold-"));
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      GOCACHE: join(scratch, "gocache"),
      GOMODCACHE: join(scratch, "gomod"),
      IBU_GITOPS_CACHE: join(scratch, "cache"),
    };
    delete env.KUBEBUILDER_ASSETS;
    // GNU time reports the peak RSS of the largest process the build waited for.
    const r = spawnSync(
      "/usr/bin/time",
      [
        "-f",
        "%e %M",
        process.execPath,
        "--import",
        "tsx",
        join(import.meta.dirname, "../support/controlplane-build.ts"),
      ],
      { env, encoding: "utf8" },
    );
    if (r.status !== 0) throw new Error(`cold build failed:\n${r.stderr}`);
    const [wall, maxKb] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
    console.log(
      `cold build (empty Go caches): wall ${wall!.toFixed(0)} s, peak RSS ${(maxKb! / 1024).toFixed(0)} MiB`,
    );
  } finally {
    spawnSync("chmod", ["-R", "u+w", scratch]);
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function warmStart(): Promise<void> {
  const t0 = performance.now();
  const [cp, thirdParty] = await Promise.all([
    ControlPlane.start({ clusters: ["hub", "spoke-1", "spoke-2"] }),
    loadThirdPartyCrds(),
  ]);
  const t1 = performance.now();
  try {
    const crds = [...thirdParty, ...loadOwnCrds()];
    await Promise.all(
      ["hub", "spoke-1", "spoke-2"].map(n =>
        cp.cluster(n).installCrdSet(crds, n === "hub" ? "hub" : "spoke"),
      ),
    );
    const t2 = performance.now();
    console.log(
      `warm start hub + 2 spokes: ${((t1 - t0) / 1000).toFixed(2)} s; CRDs installed: +${((t2 - t1) / 1000).toFixed(2)} s`,
    );
    for (const p of cp.processes())
      console.log(`  RSS ${p.name}: ${(rssBytes(p.pid) / MiB).toFixed(0)} MiB`);
  } finally {
    await cp.stop();
  }
}

if (process.argv.includes("--cold")) coldBuild();
await warmStart();
