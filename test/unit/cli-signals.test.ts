// Stopping however the CLI was started: SIGTERM to `npx ibu-gitops hub` (npm drops its shell
// and the CLI would be left running, re-parented) and SIGTERM to the CLI itself both end the
// hub cleanly ("hub stopped"), with nothing of the process tree left.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const dir = mkdtempSync(join(tmpdir(), "ibu-cli-signals-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A hub kubeconfig for an apiserver that is not there: the hub keeps retrying, serving. */
const kubeconfig = join(dir, "kubeconfig");
writeFileSync(
  kubeconfig,
  `apiVersion: v1
kind: Config
current-context: x
contexts: [{name: x, context: {cluster: x, user: x}}]
clusters: [{name: x, cluster: {server: "https://127.0.0.1:9"}}]
users: [{name: x, user: {token: t}}]
`,
);

/** Every process under `pid`, from /proc. */
function descendants(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .split(" ")
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
  return children.flatMap(c => [c, ...descendants(c)]);
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 100));
  }
}

/** Starts the hub through `argv` and waits until it serves; its output collects in `log`. */
async function startHub(argv: string[]): Promise<{ child: ChildProcess; log: () => string }> {
  const child = spawn(
    argv[0]!,
    [...argv.slice(1), "hub", "--kubeconfig", kubeconfig, "--listen", "127.0.0.1:0", "-n", "x"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let log = "";
  child.stdout.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr.on("data", (d: Buffer) => (log += d.toString()));
  await until("the hub serving", () => /serving plain HTTP/.test(log), 60_000);
  return { child, log: () => log };
}

describe("SIGINT and SIGTERM", () => {
  it("SIGTERM to npx ibu-gitops hub stops the CLI under it, though npm does not pass it on", async () => {
    const { child, log } = await startHub(["npx", "ibu-gitops"]);
    const tree = descendants(child.pid!);
    expect(tree.length, log()).toBeGreaterThanOrEqual(1);
    child.kill("SIGTERM");
    await until("every process under npx gone", () => tree.every(p => !alive(p)));
    expect(log()).toMatch(/hub stopped/);
  }, 90_000);

  it("SIGINT to the CLI stops the hub cleanly", async () => {
    const { child, log } = await startHub([process.execPath, "--import", "tsx", "src/cli/main.ts"]);
    const exited = new Promise<number | null>(r => child.once("exit", r));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(log()).toMatch(/hub stopped/);
  }, 90_000);
});
