// What the agent knows about its node: the sysroot and its drivers, LCA's state folder in the
// booted stateroot's /var, the precache store, and how to reach registries.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootedDeployment, type BootDriver } from "./drivers/boot.js";
import { ImageStore, type RegistryAccess } from "./drivers/images.js";
import type { OstreeDriver } from "./drivers/ostree.js";
import { identityFromPki, pkiRoots, type Identity } from "./drivers/crypto.js";

export interface NodeOptions {
  readonly ostree: OstreeDriver;
  readonly boot: BootDriver;
  /** Registries reached without TLS verification (host[:port]), like registries.conf's insecure. */
  readonly insecureRegistries?: readonly string[];
  /** This cluster's identity where its certificates do not tell it (e.g. NODE_IP from the downward API). */
  readonly identity?: Identity;
  /** Where precached images live. @default <sysroot>/ostree/deploy/<booted>/var/lib/containers/ibu-gitops */
  readonly imageStoreRoot?: string;
  /**
   * The etcd executable that opens a new stateroot's etcd data offline, to regenerate the
   * certificates and keys the seed keeps there. @default `etcd` on the PATH
   */
  readonly etcdBinary?: string;
}

export class Node {
  constructor(readonly opts: NodeOptions) {}

  get ostree(): OstreeDriver {
    return this.opts.ostree;
  }

  get boot(): BootDriver {
    return this.opts.boot;
  }

  booted(): { stateroot: string; checksum: string; dir: string } {
    const d = bootedDeployment(this.ostree, this.boot);
    if (!d)
      throw new Error(
        `cannot tell the booted deployment from the kernel command line: ${JSON.stringify(this.boot.cmdline().trim())}`,
      );
    return d;
  }

  /** /var of a stateroot (on the host, /var is the booted stateroot's). */
  varOf(stateroot: string): string {
    return join(this.ostree.staterootDir(stateroot), "var");
  }

  /** LCA's state folder, /var/lib/lca, of the booted stateroot. */
  lcaDir(): string {
    return join(this.varOf(this.booted().stateroot), "lib", "lca");
  }

  /**
   * Who this cluster is, for renaming the seed's names in regenerated certificates: the host
   * name from the booted deployment's /etc/hostname, the rest from its own certificates,
   * overridden by what the agent was told.
   */
  identity(): Identity {
    const booted = this.booted();
    const hostnameFile = join(booted.dir, "etc", "hostname");
    const hostname = existsSync(hostnameFile)
      ? readFileSync(hostnameFile, "utf8").trim()
      : undefined;
    const found = hostname
      ? identityFromPki(pkiRoots(booted.dir, this.varOf(booted.stateroot)), hostname)
      : {};
    const given = Object.fromEntries(
      Object.entries(this.opts.identity ?? {}).filter(([, v]) => v !== undefined && v !== ""),
    );
    return { ...found, ...given };
  }

  workspace(): string {
    return join(this.lcaDir(), "workspace");
  }

  store(): ImageStore {
    return new ImageStore(
      this.opts.imageStoreRoot ??
        join(this.varOf(this.booted().stateroot), "lib", "containers", "ibu-gitops"),
    );
  }

  /** False for images on registries configured as insecure. */
  tlsVerifyFor(image: string): boolean {
    return !(this.opts.insecureRegistries ?? []).includes(image.split("/")[0] ?? "");
  }

  /** Registry access for an image: TLS off for insecure registries, and an auth file if any. */
  access(image: string, dockerconfigjson?: string): RegistryAccess {
    const tlsVerify = this.tlsVerifyFor(image);
    if (!dockerconfigjson) {
      const cluster = join(this.varOf(this.booted().stateroot), "lib", "kubelet", "config.json");
      return { tlsVerify, ...(existsSync(cluster) ? { authfile: cluster } : {}) };
    }
    mkdirSync(this.workspace(), { recursive: true, mode: 0o700 });
    const authfile = join(this.workspace(), "pull-secret.json");
    writeFileSync(authfile, dockerconfigjson, { mode: 0o600 });
    return { tlsVerify, authfile };
  }
}
