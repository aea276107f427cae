// Boot control: which deployment is booted, and rebooting into the default one. On a node the
// booted deployment comes from /proc/cmdline and a reboot is systemd's; in tests and the demo
// the "kernel command line" is a file in the sysroot, and a reboot ends the agent so the
// harness can "power on" the default deployment (sandboxPowerOn) and start the agent again.
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { run } from "../exec.js";
import { bootEntries, type Deployment, type OstreeDriver } from "./ostree.js";

export interface BootDriver {
  /** The kernel command line the node booted with. */
  cmdline(): string;
  /** Changes on every boot: tells a restart of the agent from a reboot of the node. */
  bootId(): string;
  /** Reboots into the default deployment. Does not return on a node; ends the process in a sandbox. */
  reboot(reason: string): Promise<void>;
}

/** True when this process's mount namespace is not the host's (PID 1's). */
function inContainer(): boolean {
  try {
    return readlinkSync("/proc/1/ns/mnt") !== readlinkSync("/proc/self/ns/mnt");
  } catch {
    return false;
  }
}

export class HostBoot implements BootDriver {
  cmdline(): string {
    return readFileSync("/proc/cmdline", "utf8");
  }

  bootId(): string {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  }

  async reboot(reason: string): Promise<void> {
    // As LCA does: a transient unit, so the reboot outlives the agent's container; from a
    // container (host PID namespace) through the host's namespaces.
    const prefix = inContainer()
      ? ["--target", "1", "--cgroup", "--mount", "--ipc", "--pid", "--"]
      : [];
    await run(prefix.length ? "nsenter" : "systemd-run", [
      ...prefix,
      ...(prefix.length ? ["systemd-run"] : []),
      "--unit",
      "ibu-gitops-reboot",
      "--description",
      reason,
      "systemctl",
      "reboot",
    ]);
  }
}

export class SandboxBoot implements BootDriver {
  constructor(
    readonly sysroot: string,
    private readonly exit: (code: number) => void = code => process.exit(code),
  ) {}

  static cmdlineFile(sysroot: string): string {
    return join(sysroot, ".ibu-gitops", "cmdline");
  }

  static rebootMarker(sysroot: string): string {
    return join(sysroot, ".ibu-gitops", "reboot-requested");
  }

  cmdline(): string {
    const f = SandboxBoot.cmdlineFile(this.sysroot);
    return existsSync(f) ? readFileSync(f, "utf8") : "";
  }

  static bootIdFile(sysroot: string): string {
    return join(sysroot, ".ibu-gitops", "boot-id");
  }

  bootId(): string {
    const f = SandboxBoot.bootIdFile(this.sysroot);
    return existsSync(f) ? readFileSync(f, "utf8").trim() : "";
  }

  reboot(reason: string): Promise<void> {
    writeFileSync(SandboxBoot.rebootMarker(this.sysroot), `${reason}\n`);
    this.exit(0);
    return Promise.resolve();
  }
}

/** The sandbox's power-on: boot the default deployment (the first boot loader entry). */
export function sandboxPowerOn(sysroot: string): void {
  const [options] = bootEntries(sysroot);
  if (options === undefined)
    throw new Error(`no boot loader entries in ${sysroot}/boot/loader/entries: nothing to boot`);
  mkdirSync(join(sysroot, ".ibu-gitops"), { recursive: true });
  writeFileSync(SandboxBoot.cmdlineFile(sysroot), `${options}\n`);
  writeFileSync(SandboxBoot.bootIdFile(sysroot), `${randomUUID()}\n`);
  rmSync(SandboxBoot.rebootMarker(sysroot), { force: true });
}

/** The booted deployment, or undefined when the command line names none. */
export function bootedDeployment(
  ostree: OstreeDriver,
  boot: BootDriver,
): Omit<Deployment, "index"> | undefined {
  return ostree.resolveBootArg(boot.cmdline());
}
