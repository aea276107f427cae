// The product end to end: `ibu-gitops demo --spokes 2 --exit-when-done` as a user runs it.
// Every spoke must end on the new version with the old stateroot gone, Idle, and no
// auto-import annotation left; the hub's dashboard API must count them so; and nothing the
// demo started may survive it: no process, no folder, no mount.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import type { DemoResult } from "../../src/sandbox/demo.js";
import { isAlive } from "../../src/sandbox/process.js";

it("ibu-gitops demo --spokes 2 --exit-when-done upgrades every spoke and leaves nothing behind", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ibu-demo-e2e-"));
  try {
    const resultFile = join(dir, "result.json");
    const child = spawn(
      process.execPath,
      [
        "bin/ibu-gitops.js",
        "demo",
        "--spokes",
        "2",
        "--exit-when-done",
        // A short pause: exercised without making the run a minute longer.
        "--pace",
        "1s",
        "--result-file",
        resultFile,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>(resolve => child.once("exit", resolve));
    expect(code, out).toBe(0);
    expect(out).toContain("-- cancel on spoke-1");
    expect(out).toContain("-- rollback on spoke-2");
    // The gitops driver: every step a Git commit that Argo CD syncs, carried out by TALM's CGUs
    // on the real hub stack.
    expect(out).toMatch(
      /\$ git commit -m "canary: Upgrade" {2}# [0-9a-f]{7}; Argo CD synced it in [\d.]+ s \(Succeeded, /,
    );
    expect(out).toMatch(
      /== the rollout in Git \(file:\/\/.*\)[^]*[0-9a-f]{7} Finalize every group/,
    );
    expect(out).toMatch(/CGU wave-1-rbk-\w+: Completed \(spoke-2 complete\)/);
    // A short address; the token in a file, not in the URL; none printed after the hub is gone.
    const dashboard =
      /dashboard: (http:\/\/127\.0\.0\.1:\d+\/) {2}\(sign in with the token in (\S+)\)/.exec(out);
    expect(dashboard, out).not.toBeNull();
    expect(out.match(/dashboard: /g)).toHaveLength(1);
    expect(out).not.toContain("#token=");

    const result = JSON.parse(readFileSync(resultFile, "utf8")) as DemoResult;
    // The dashboard page was served (its shell carries no data; the counts come from the API).
    expect(result.dashboardPage).toBe(200);
    expect(result.spokes).toEqual(
      ["spoke-1", "spoke-2"].map(name => ({
        name,
        booted: "rhcos_4.18.1",
        stateroots: ["rhcos_4.18.1"],
        idle: true,
        autoImportDisabled: false,
      })),
    );
    const summary = result.summary as {
      total: number;
      byStageState: Record<string, Record<string, number>>;
      autoImportDisabled: number;
      byGroup: Record<string, { total: number }>;
      done: number;
    };
    expect(summary.total).toBe(2);
    // Done: on the target version (from the CGUs' annotation) and finalized.
    expect(summary.done).toBe(2);
    expect(summary.byStageState).toEqual({ Idle: { Idle: 2 } });
    expect(summary.autoImportDisabled).toBe(0);
    expect(Object.keys(summary.byGroup).sort()).toEqual(["canary", "wave-1"]);

    // Nothing survives: processes, folders, mounts.
    // etcd, 3 apiservers and controller-managers, the registry, the watchdog, TALM, the
    // propagator, placement, PlacementRule, addon-manager, 3 per spoke, and Argo CD's Redis,
    // repo-server and application controller: 23 processes, each listed once.
    expect(new Set(result.pids).size).toBe(result.pids.length);
    expect(result.pids.length).toBeGreaterThanOrEqual(23);
    expect(result.pids.filter(isAlive)).toEqual([]);
    expect(result.dirs.filter(d => existsSync(d))).toEqual([]);
    const mounts = readFileSync("/proc/self/mounts", "utf8");
    expect(result.dirs.filter(d => mounts.includes(d))).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // Twelve commits carried out by TALM: about 6 minutes alone, over 10 side by side with the
  // integration tests on 2 cores.
}, 1_500_000);

it("Ctrl-C in the middle of the walk stops everything the demo started", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ibu-demo-e2e-"));
  try {
    const resultFile = join(dir, "result.json");
    const child = spawn(
      process.execPath,
      ["bin/ibu-gitops.js", "demo", "--spokes", "1", "--result-file", resultFile],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    const started = new Promise<void>(resolve => {
      const on = (d: Buffer): void => {
        out += d.toString();
        if (out.includes('$ git commit -m "canary: Prep"')) resolve();
      };
      child.stdout.on("data", on);
      child.stderr.on("data", on);
    });
    const exited = new Promise<number | null>(resolve => child.once("exit", resolve));
    await Promise.race([started, exited]);
    const { pids, dirs } = JSON.parse(readFileSync(resultFile, "utf8")) as DemoResult;
    expect(pids.filter(isAlive).length, out).toBeGreaterThanOrEqual(4);
    child.kill("SIGINT");
    expect(await exited, out).toBe(130);
    expect(out).toContain("stopping: every process, mount and folder the demo made goes");
    expect(pids.filter(isAlive)).toEqual([]);
    expect(dirs.filter(d => existsSync(d))).toEqual([]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
