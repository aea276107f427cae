// Stopping however the CLI was started: SIGTERM to `npx ibu-gitops hub` (npm drops its shell
// and the CLI would be left running, re-parented) and SIGTERM to the CLI itself both end the
// hub cleanly ("hub stopped"), with nothing of the process tree left. The hub's log: JSON lines
// on stderr at the level LOG_LEVEL names.
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

/**
 * Starts the hub through `argv` with `env` added to the environment and waits until its output
 * matches `ready`; its output collects in `log` (stdout and stderr) and `stderr`.
 */
async function startHub(
  argv: string[],
  env: Record<string, string> = {},
  ready = /serving plain HTTP/,
): Promise<{ child: ChildProcess; log: () => string; stdout: () => string; stderr: () => string }> {
  const child = spawn(
    argv[0]!,
    [...argv.slice(1), "hub", "--kubeconfig", kubeconfig, "--listen", "127.0.0.1:0", "-n", "x"],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LOG_LEVEL: "", ...env },
    },
  );
  let log = "";
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => ((log += d.toString()), (stdout += d.toString())));
  child.stderr.on("data", (d: Buffer) => ((log += d.toString()), (stderr += d.toString())));
  await until("the hub serving", () => ready.test(log), 60_000);
  return { child, log: () => log, stdout: () => stdout, stderr: () => stderr };
}

const TSX = [process.execPath, "--import", "tsx", "src/cli/main.ts"];

/** Complete lines of `text`, each parsed as JSON (a line that is not JSON fails the test). */
const entries = (text: string): Array<Record<string, any>> =>
  text
    .split("\n")
    .slice(0, -1)
    .map(l => JSON.parse(l) as Record<string, any>);

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
    const { child, log } = await startHub(TSX);
    const exited = new Promise<number | null>(r => child.once("exit", r));
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(log()).toMatch(/hub stopped/);
  }, 90_000);
});

describe("the hub's log", () => {
  it("is JSON lines on stderr, info and above by default, stdout left empty", async () => {
    const { child, stdout, stderr } = await startHub(TSX, {}, /watch \S+: restarting/);
    const exited = new Promise<number | null>(r => child.once("exit", r));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const lines = entries(stderr());
    expect(lines.find(l => /serving plain HTTP/.test(l.msg))).toMatchObject({
      level: 30,
      name: "ibu-gitops-hub",
      tls: false,
      leaderElect: false,
      namespace: "x",
      port: expect.any(Number),
    });
    // The apiserver in the kubeconfig is not there: each watch restarts, with the error.
    const restart = lines.find(l => l.level === 40 && /^watch /.test(l.msg));
    expect(restart?.err?.message, stderr()).toBeTruthy();
    expect(restart?.backoffMs).toBeGreaterThan(0);
    expect(lines.at(-1)).toMatchObject({ level: 30, msg: "hub stopped" });
    expect(lines.every(l => l.level >= 30 && typeof l.time === "string")).toBe(true);
    expect(stdout()).toBe("");
  }, 90_000);

  it("leaves out info with LOG_LEVEL=warn", async () => {
    const { child, stderr } = await startHub(TSX, { LOG_LEVEL: "warn" }, /watch \S+: restarting/);
    const exited = new Promise<number | null>(r => child.once("exit", r));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    const levels = new Set(entries(stderr()).map(l => Number(l.level)));
    expect([...levels]).toEqual([40]);
  }, 90_000);
});
