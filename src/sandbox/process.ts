// Child processes for test harnesses: output to a log file, readiness that fails fast (with
// the log's last lines) when the process exits early, and stop with SIGTERM then SIGKILL.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { get as httpGet } from "node:http";
import { createServer } from "node:net";

export class ManagedProcess {
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exitPromise: Promise<void>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly logPath: string,
  ) {
    this.exitPromise = new Promise(resolve => {
      child.once("exit", (code, signal) => {
        this.exited = { code, signal };
        resolve();
      });
    });
  }

  static start(
    name: string,
    command: string,
    args: string[],
    logPath: string,
    env?: NodeJS.ProcessEnv,
  ): ManagedProcess {
    const fd = openSync(logPath, "a");
    try {
      const child = spawn(command, args, { stdio: ["ignore", fd, fd], env: env ?? process.env });
      const p = new ManagedProcess(name, child, logPath);
      child.once("error", err => {
        p.exited = { code: -1, signal: null };
        p.startError = err;
      });
      return p;
    } finally {
      closeSync(fd);
    }
  }

  startError: Error | undefined;

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get hasExited(): boolean {
    return this.exited !== undefined;
  }

  /** The last `n` lines of the log: what an error message shows when the process failed. */
  logTail(n = 25): string {
    try {
      return readFileSync(this.logPath, "utf8").trimEnd().split("\n").slice(-n).join("\n");
    } catch {
      return "(no log)";
    }
  }

  describeExit(): string {
    if (this.startError) return `${this.name} could not start: ${this.startError.message}`;
    const e = this.exited;
    const how = e?.signal ? `was killed by ${e.signal}` : `exited with code ${e?.code}`;
    return `${this.name} ${how} before it was ready; last lines of ${this.logPath}:\n${this.logTail()}`;
  }

  /**
   * Polls `ready` until it resolves true. Rejects at once, with the log's tail, if the
   * process exits first, and after `timeoutMs` if it never becomes ready.
   */
  async waitReady(
    ready: () => Promise<boolean>,
    timeoutMs: number,
    intervalMs = 100,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.hasExited) throw new Error(this.describeExit());
      if (await ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        throw new Error(
          `${this.name} not ready after ${timeoutMs} ms; last lines of ${this.logPath}:\n${this.logTail()}`,
        );
      }
      await sleep(intervalMs);
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.hasExited || this.child.pid === undefined) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }
}

/** True when a plain-HTTP GET of `url` answers 200 within 2 s (readiness of a local process). */
export function httpOk(url: string): Promise<boolean> {
  return new Promise(resolve => {
    const req = httpGet(url, res => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("error", () => resolve(false));
    req.setTimeout(2000, () => req.destroy());
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise(r => setTimeout(r, ms));
}

/** A currently free TCP port on 127.0.0.1 (a race is possible: callers retry on bind errors). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port")),
      );
    });
  });
}

/** True if the process with this PID exists (and is not a zombie we could reap). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}

/** Resident set size of a process in bytes, from /proc (0 if it is gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m?.[1] ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}
