// Real ostree sysroots for tests and the demo: `ostree admin init-fs` in a temp folder, an
// RHCOS-like commit (kernel, initramfs, os-release, /usr/etc) per version, deployed into the
// stateroot LCA would name (rhcos_<version>), booted by the sandbox's power-on.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../addon/agent/exec.js";
import { sandboxPowerOn } from "../../addon/agent/drivers/boot.js";
import { OstreeDriver } from "../../addon/agent/drivers/ostree.js";
import { staterootName } from "../../addon/agent/seed/format.js";
import { writeClusterPki, type AdminCredentials, type PkiIdentity } from "./pki.js";

/** Commits an RHCOS-like tree for `version` to `repo` under ref `rhcos/<version>`. */
export async function commitRelease(repo: string, version: string): Promise<string> {
  const tree = mkdtempSync(join(tmpdir(), "ibu-tree-"));
  try {
    const files: Record<string, string> = {
      "usr/lib/modules/6.1.0/vmlinuz": `kernel for ${version}\n`,
      "usr/lib/modules/6.1.0/initramfs.img": `initramfs for ${version}\n`,
      "usr/lib/os-release": `NAME="Red Hat Enterprise Linux CoreOS"\nID=rhcos\nVERSION_ID="${version}"\nPRETTY_NAME="RHCOS ${version} (test)"\nOPENSHIFT_VERSION="${version}"\n`,
      "usr/etc/os-release": `ID=rhcos\nPRETTY_NAME="RHCOS ${version} (test)"\n`,
      "usr/etc/hostname": "localhost\n",
      "usr/etc/chrony.conf": "pool 2.rhel.pool.ntp.org iburst\n",
      "usr/share/openshift/release": `${version}\n`,
    };
    for (const [f, content] of Object.entries(files)) {
      mkdirSync(join(tree, f, ".."), { recursive: true });
      writeFileSync(join(tree, f), content);
    }
    return (
      await run("ostree", [
        `--repo=${repo}`,
        "commit",
        `--branch=rhcos/${version}`,
        `--subject=RHCOS ${version}`,
        tree,
      ])
    ).trim();
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

export interface TestSysroot {
  readonly dir: string;
  readonly ostree: OstreeDriver;
  readonly stateroot: string;
  /** Who the cluster is: its certificates name this host, cluster domain and IP. */
  readonly identity: PkiIdentity;
  /** The admin kubeconfig's client certificate, held outside the cluster. */
  readonly admin: AdminCredentials;
  remove(): Promise<void>;
}

/** A documentation-range IP (192.0.2.0/24) per host name, stable across runs. */
function testIp(hostname: string): string {
  let h = 2166136261;
  for (const ch of hostname) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return `192.0.2.${11 + (h % 240)}`;
}

/**
 * A sysroot with one stateroot for `version`, deployed and booted, with some local state in
 * its /var and /etc (what a seed carries over), including the cluster's PKI.
 */
export async function makeSysroot(
  version: string,
  opts: { hostname?: string; clusterName?: string; ip?: string } = {},
): Promise<TestSysroot> {
  const dir = mkdtempSync(join(tmpdir(), "ibu-sysroot-"));
  const adminDir = mkdtempSync(join(tmpdir(), "ibu-admin-"));
  const hostname = opts.hostname ?? "sno";
  const identity: PkiIdentity = {
    hostname,
    clusterName: opts.clusterName ?? hostname,
    baseDomain: "example.com",
    ip: opts.ip ?? (hostname === "seed" ? "192.0.2.10" : testIp(hostname)),
  };
  const ostree = new OstreeDriver(dir);
  await ostree.initFs();
  await commitRelease(ostree.repo, version);
  const stateroot = staterootName(version);
  await ostree.osInit(stateroot);
  await ostree.deploy(stateroot, `rhcos/${version}`, { asDefault: true });
  const [d] = ostree.deployments();
  if (!d) throw new Error("deploy produced no deployment");
  writeFileSync(join(d.dir, "etc", "hostname"), `${hostname}\n`);
  const varLibKubelet = join(ostree.staterootDir(stateroot), "var", "lib", "kubelet");
  mkdirSync(varLibKubelet, { recursive: true });
  writeFileSync(join(varLibKubelet, "config.json"), "{}\n");
  // The cluster's certificates; the kubelet's expiries bound how long a rollback is safe.
  const admin = await writeClusterPki(
    join(d.dir, "etc", "kubernetes"),
    varLibKubelet,
    identity,
    adminDir,
  );
  sandboxPowerOn(dir);
  return {
    dir,
    ostree,
    stateroot,
    identity,
    admin,
    remove: async () => {
      await run("chattr", ["-R", "-i", dir]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      rmSync(adminDir, { recursive: true, force: true });
    },
  };
}
