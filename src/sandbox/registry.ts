// A real container registry for tests: Debian's docker-registry on a loopback port, storing
// in a temp folder, optionally behind htpasswd basic auth (for wrong-credential tests).
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { ManagedProcess, freePort } from "./process.js";

export interface RegistryOptions {
  /** Require these credentials (basic auth over htpasswd). */
  readonly auth?: { readonly user: string; readonly password: string };
}

export class TestRegistry {
  private constructor(
    readonly host: string,
    readonly dir: string,
    private readonly process: ManagedProcess,
  ) {}

  static async start(opts: RegistryOptions = {}): Promise<TestRegistry> {
    const dir = mkdtempSync(join(tmpdir(), "ibu-gitops-registry-"));
    const port = await freePort();
    const config: Record<string, unknown> = {
      version: 0.1,
      log: { level: "warn" },
      storage: { filesystem: { rootdirectory: join(dir, "data") }, delete: { enabled: true } },
      http: { addr: `127.0.0.1:${port}` },
    };
    if (opts.auth) {
      writeFileSync(join(dir, "htpasswd"), htpasswd(opts.auth.user, opts.auth.password));
      config.auth = { htpasswd: { realm: "ibu-gitops-test", path: join(dir, "htpasswd") } };
    }
    mkdirSync(join(dir, "data"));
    writeFileSync(join(dir, "config.yml"), stringify(config));
    let p: ManagedProcess;
    try {
      p = ManagedProcess.start(
        "docker-registry",
        "docker-registry",
        ["serve", join(dir, "config.yml")],
        join(dir, "registry.log"),
      );
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const reg = new TestRegistry(`127.0.0.1:${port}`, dir, p);
    try {
      await p.waitReady(
        () => httpStatus(`http://127.0.0.1:${port}/v2/`).then(s => s === 200 || s === 401),
        20_000,
      );
      if (p.startError) throw p.startError;
    } catch (err) {
      await reg.stop();
      const missing =
        (err as NodeJS.ErrnoException).code === "ENOENT" || /ENOENT/.test(String(err));
      throw missing
        ? new Error(
            "docker-registry is not installed: apt-get install docker-registry (or run scripts/install-deps.sh)",
            { cause: err },
          )
        : err;
    }
    return reg;
  }

  get pid(): number {
    return this.process.pid;
  }

  async stop(): Promise<void> {
    await this.process.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** docker-registry accepts only bcrypt entries: apache2-utils' htpasswd -B makes them. */
function htpasswd(user: string, password: string): string {
  return execFileSync("htpasswd", ["-nbB", user, password], { encoding: "utf8" });
}

function httpStatus(url: string): Promise<number> {
  return new Promise(resolve => {
    const req = get(url, res => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.setTimeout(2000, () => req.destroy());
  });
}
