// The ostree driver: stateroots and deployments on a sysroot through the `ostree` CLI. On a
// node the sysroot is `/sysroot`; in tests and the demo it is a folder made by `init-fs`.
// Debian's ostree 2022.7 has no `admin set-default`, so making a deployment the default is a
// redeploy of its commit with --retain (which puts it first and keeps the others).
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import { run } from "../exec.js";

export interface Deployment {
  /** Position in the boot order: 0 is the default. */
  readonly index: number;
  readonly stateroot: string;
  readonly checksum: string;
  readonly serial: number;
  /** Folder of the deployment's tree. */
  readonly dir: string;
}

export class OstreeDriver {
  constructor(readonly sysroot: string) {}

  private admin(args: string[]): Promise<string> {
    return run("ostree", ["admin", `--sysroot=${this.sysroot}`, ...args]);
  }

  get repo(): string {
    return join(this.sysroot, "ostree", "repo");
  }

  staterootDir(stateroot: string): string {
    return join(this.sysroot, "ostree", "deploy", stateroot);
  }

  /** Stateroots present on the sysroot (folders under ostree/deploy). */
  stateroots(): string[] {
    const dir = join(this.sysroot, "ostree", "deploy");
    return existsSync(dir) ? readdirSync(dir).sort() : [];
  }

  /**
   * Deployments in boot order, read from the boot loader entries ostree writes (the entry's
   * `ostree=` argument names stateroot, boot checksum and serial) and the deploy folders.
   */
  deployments(): Deployment[] {
    return bootEntries(this.sysroot).flatMap((options, index) => {
      const d = this.resolveBootArg(options);
      return d ? [{ ...d, index }] : [];
    });
  }

  /** The deployment an `ostree=/ostree/boot.N/<stateroot>/<bootcsum>/<serial>` argument names. */
  resolveBootArg(cmdline: string): Omit<Deployment, "index"> | undefined {
    const m = /(?:^|\s)ostree=(\S+)/.exec(cmdline);
    if (!m?.[1]) return undefined;
    const parts = m[1].split("/").filter(Boolean); // ostree, boot.N, stateroot, bootcsum, serial
    const stateroot = parts[2];
    if (!stateroot) return undefined;
    const deployDir = join(this.staterootDir(stateroot), "deploy");
    // The boot.N folder in the argument is the one current at boot; each new deployment swaps
    // ostree's boot version, so look the link up in whichever boot.N folder holds it now.
    const rest = parts.slice(2);
    const bootDirs = readdirOr(join(this.sysroot, "ostree")).filter(d =>
      /^boot\.\d+(\.\d+)?$/.test(d),
    );
    const target = [parts[1] ?? "", ...bootDirs]
      .map(b => readLink(join(this.sysroot, "ostree", b, ...rest)))
      .find(Boolean);
    const name = target?.split("/").pop() ?? "";
    const mm = /^([0-9a-f]{64})\.(\d+)$/.exec(name);
    if (!mm?.[1]) return undefined;
    return { stateroot, checksum: mm[1], serial: Number(mm[2]), dir: join(deployDir, name) };
  }

  async initFs(): Promise<void> {
    await run("ostree", ["admin", "init-fs", this.sysroot]);
  }

  async osInit(stateroot: string): Promise<void> {
    await this.admin(["os-init", stateroot]);
  }

  /** Copies a commit (and its ref) from another repository into the sysroot's repository. */
  async pullLocal(fromRepo: string, ref: string): Promise<void> {
    await run("ostree", [`--repo=${this.repo}`, "pull-local", fromRepo, ref]);
  }

  /** Deploys `ref` into `stateroot`; not as the default unless asked. */
  async deploy(
    stateroot: string,
    ref: string,
    opts: { asDefault?: boolean; kargs?: readonly string[] } = {},
  ): Promise<void> {
    const args = ["deploy", `--os=${stateroot}`, "--retain", "--karg-none"];
    if (!opts.asDefault) args.push("--not-as-default");
    for (const k of opts.kargs ?? []) args.push(`--karg-append=${k}`);
    await this.admin([...args, ref]);
  }

  /** Makes a deployment the default by redeploying its commit first in the boot order. */
  async setDefault(d: Deployment): Promise<void> {
    if (d.index === 0) return;
    await this.admin(["deploy", `--os=${d.stateroot}`, "--retain", d.checksum]);
    // The redeploy added a copy at index 0; drop the old copy so the list stays small.
    const copy = this.deployments().find(
      x => x.stateroot === d.stateroot && x.checksum === d.checksum && x.index > 0,
    );
    if (copy) await this.undeploy(copy.index);
  }

  async undeploy(index: number): Promise<void> {
    await this.admin(["undeploy", String(index)]);
  }

  /**
   * Removes a stateroot: undeploys its deployments (last first) and deletes its folder.
   * ostree marks deployment folders immutable, so they are made mutable first.
   */
  async removeStateroot(stateroot: string): Promise<void> {
    const mine = this.deployments()
      .filter(d => d.stateroot === stateroot)
      .sort((a, b) => b.index - a.index);
    for (const d of mine) await this.undeploy(d.index);
    const dir = this.staterootDir(stateroot);
    if (existsSync(dir)) {
      await run("chattr", ["-R", "-i", dir]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
    await this.admin(["cleanup"]);
  }

  /** Resolves a ref or checksum in the sysroot's repository. */
  async revParse(ref: string, repo = this.repo): Promise<string> {
    return (await run("ostree", [`--repo=${repo}`, "rev-parse", ref])).trim();
  }
}

function readdirOr(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

function readLink(link: string): string | undefined {
  try {
    return readlinkSync(link);
  } catch {
    return undefined;
  }
}

/**
 * The `options` lines of the boot loader entries ostree wrote, default first (ostree gives
 * the default entry the highest `version`).
 */
export function bootEntries(sysroot: string): string[] {
  const dir = join(sysroot, "boot", "loader", "entries");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter(f => f.endsWith(".conf"))
    .map(f => readFileSync(join(dir, f), "utf8"))
    .map(text => ({
      version: Number(/^version (\d+)/m.exec(text)?.[1] ?? 0),
      options: /^options (.*)$/m.exec(text)?.[1] ?? "",
    }))
    .sort((a, b) => b.version - a.version)
    .map(e => e.options);
}
