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
  remove(): Promise<void>;
}

/**
 * A sysroot with one stateroot for `version`, deployed and booted, with some local state in
 * its /var and /etc (what a seed carries over).
 */
export async function makeSysroot(
  version: string,
  opts: { hostname?: string } = {},
): Promise<TestSysroot> {
  const dir = mkdtempSync(join(tmpdir(), "ibu-sysroot-"));
  const ostree = new OstreeDriver(dir);
  await ostree.initFs();
  await commitRelease(ostree.repo, version);
  const stateroot = staterootName(version);
  await ostree.osInit(stateroot);
  await ostree.deploy(stateroot, `rhcos/${version}`, { asDefault: true });
  const [d] = ostree.deployments();
  if (!d) throw new Error("deploy produced no deployment");
  writeFileSync(join(d.dir, "etc", "hostname"), `${opts.hostname ?? "sno"}\n`);
  mkdirSync(join(ostree.staterootDir(stateroot), "var", "lib", "kubelet"), { recursive: true });
  writeFileSync(
    join(ostree.staterootDir(stateroot), "var", "lib", "kubelet", "config.json"),
    "{}\n",
  );
  // Kubelet certificates, as a cluster has them: their expiry bounds how long a rollback is safe.
  const pki = join(ostree.staterootDir(stateroot), "var", "lib", "kubelet", "pki");
  mkdirSync(pki, { recursive: true });
  for (const [name, days] of [
    ["kubelet-client-current", 30],
    ["kubelet-server-current", 20],
  ] as const) {
    const key = join(pki, `${name}.key`);
    const cert = join(pki, `${name}.pem`);
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      String(days),
      "-subj",
      `/CN=system:node:${opts.hostname ?? "sno"}`,
    ]);
  }
  sandboxPowerOn(dir);
  return {
    dir,
    ostree,
    stateroot,
    remove: async () => {
      await run("chattr", ["-R", "-i", dir]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
