// A site stopped while it starts (Ctrl-C during `ibu-gitops demo`'s start-up) leaves nothing:
// no control plane, registry or sysroot made before or after the stop outlives it.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { sleep } from "../../src/sandbox/process.js";
import { SandboxSite } from "../../src/sandbox/site.js";

/** PIDs of processes whose command line names `dir` (the site's apiservers, registry, etcd). */
function processesUnder(dir: string): number[] {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .filter(l => l.includes(dir) && !l.includes(" ps "))
    .map(l => Number(l.trim().split(/\s+/)[0]));
}

describe("a site stopped during its start", () => {
  const saved = process.env.TMPDIR;
  let dir: string;
  beforeEach(() => {
    // Everything the site makes goes under its own temp folder, so leftovers are its own.
    dir = mkdtempSync(join(tmpdir(), "ibu-gitops-site-stop-"));
    process.env.TMPDIR = dir;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
    try {
      execFileSync("chattr", ["-R", "-i", dir], { stdio: "ignore" });
    } catch {
      // a file system without immutable files: nothing to undo
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([200, 1500, 5000])(
    "stop() %i ms into start() ends every process and removes every folder",
    async ms => {
      const site = new SandboxSite({ spokes: ["spoke-1"] });
      const started = site.start().then(
        () => "started",
        (err: unknown) => (err as Error).message,
      );
      await sleep(ms);
      await site.stop();
      const outcome = await started;
      // Whatever start() was doing has ended: give stopped processes a moment to exit.
      for (let i = 0; i < 50 && processesUnder(dir).length; i++) await sleep(200);
      expect(processesUnder(dir), `start: ${outcome}`).toEqual([]);
      expect(readdirSync(dir), `start: ${outcome}`).toEqual([]);
    },
    120_000,
  );
});
