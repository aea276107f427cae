// Builds a seed image from a stateroot on a sysroot (the seed cluster's), in LCA's format 4:
// the ostree commit as an archive repository, the stateroot's /var and the deployment's /etc
// changes, the deployment's origin, the seed cluster information, and the list of images to
// precache. The image is assembled with umoci as an OCI layout and pushed with skopeo.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { run } from "../exec.js";
import { OstreeDriver } from "../drivers/ostree.js";
import {
  LABEL_CLUSTER_INFO,
  LABEL_FORMAT_VERSION,
  SEED_FORMAT_VERSION,
  SeedFile,
  staterootName,
  type SeedClusterInfo,
} from "./format.js";

export interface SeedBuildOptions {
  readonly sysroot: string;
  readonly version: string;
  /** Defaults to rhcos_<version>. */
  readonly stateroot?: string;
  readonly clusterInfo: SeedClusterInfo;
  /** Image references the upgraded cluster will need (precached during Prep). */
  readonly images: readonly string[];
  /** Where to push, e.g. registry.example.com/seeds/sno:4.18.1. */
  readonly image: string;
  readonly tlsVerify?: boolean;
  readonly authfile?: string;
}

/** Paths under the stateroot's /var that a seed never carries (LCA excludes them too). */
const VAR_EXCLUDES = [
  "./tmp/*",
  "./log/*",
  "./lib/lca",
  "./lib/containers/*",
  "./lib/kubelet/pods",
];

export async function buildSeed(opts: SeedBuildOptions): Promise<{ digest: string }> {
  const ostree = new OstreeDriver(opts.sysroot);
  const stateroot = opts.stateroot ?? staterootName(opts.version);
  const d = ostree.deployments().find(x => x.stateroot === stateroot);
  if (!d)
    throw new Error(
      `no deployment of stateroot ${stateroot} on ${opts.sysroot} (have: ${ostree.stateroots().join(", ") || "none"})`,
    );
  const work = mkdtempSync(join(tmpdir(), "ibu-seed-"));
  try {
    const files = join(work, "files");
    mkdirSync(files);
    await archiveCommit(ostree, d.checksum, work, files);
    await run("tar", [
      "czf",
      join(files, SeedFile.var),
      ...VAR_EXCLUDES.flatMap(x => ["--exclude", x]),
      "-C",
      join(ostree.staterootDir(stateroot), "var"),
      ".",
    ]);
    await etcChanges(d.dir, files);
    const deploymentId = `${stateroot}-${d.checksum}.${d.serial}`;
    writeFileSync(
      join(files, SeedFile.rpmOstree),
      JSON.stringify(
        {
          deployments: [
            {
              id: deploymentId,
              osname: stateroot,
              checksum: d.checksum,
              serial: d.serial,
              booted: true,
            },
          ],
        },
        null,
        2,
      ),
    );
    writeFileSync(
      join(files, SeedFile.mcoConfig),
      JSON.stringify({ spec: { kernelArguments: [] } }, null, 2),
    );
    const origin = `${d.dir}.origin`;
    if (existsSync(origin)) cpSync(origin, join(files, `ostree-${d.checksum}.${d.serial}.origin`));
    writeFileSync(join(files, SeedFile.manifest), JSON.stringify(opts.clusterInfo, null, 2));
    writeFileSync(join(files, SeedFile.containersList), opts.images.map(i => `${i}\n`).join(""));
    return await packAndPush(work, files, opts);
  } finally {
    await run("chattr", ["-R", "-i", work]).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

/** The deployment's commit as an archive-mode repository, tarred (ref `seed`). */
async function archiveCommit(
  ostree: OstreeDriver,
  checksum: string,
  work: string,
  files: string,
): Promise<void> {
  const repo = join(work, "repo");
  await run("ostree", [`--repo=${repo}`, "init", "--mode=archive"]);
  await run("ostree", [`--repo=${repo}`, "pull-local", ostree.repo, checksum]);
  await run("ostree", [`--repo=${repo}`, "refs", "--create=seed", checksum]);
  await run("tar", ["czf", join(files, SeedFile.ostree), "-C", repo, "."]);
}

/** /etc files that differ from the commit's /usr/etc (etc.tgz) and those removed (etc.deletions). */
async function etcChanges(deploymentDir: string, files: string): Promise<void> {
  const etc = join(deploymentDir, "etc");
  const usrEtc = join(deploymentDir, "usr", "etc");
  const changed = listFiles(etc).filter(f => {
    const base = join(usrEtc, f);
    return !existsSync(base) || !readFileSync(base).equals(readFileSync(join(etc, f)));
  });
  const deleted = listFiles(usrEtc).filter(f => !existsSync(join(etc, f)));
  writeFileSync(join(files, SeedFile.etcDeletions), deleted.map(f => `/etc/${f}\n`).join(""));
  const list = join(files, "..", "etc.list");
  writeFileSync(list, changed.map(f => `${f}\n`).join(""));
  await run("tar", ["czf", join(files, SeedFile.etc), "-C", etc, "-T", list]);
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d).sort()) {
      const p = join(d, e);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out;
}

async function packAndPush(
  work: string,
  files: string,
  opts: SeedBuildOptions,
): Promise<{ digest: string }> {
  const layout = join(work, "oci");
  const bundle = join(work, "bundle");
  const ref = `${layout}:seed`;
  await run("umoci", ["init", "--layout", layout]);
  await run("umoci", ["new", "--image", ref]);
  await run("umoci", ["unpack", "--image", ref, bundle]);
  cpSync(files, join(bundle, "rootfs"), { recursive: true });
  await run("umoci", ["repack", "--image", ref, bundle]);
  await run("umoci", [
    "config",
    "--image",
    ref,
    "--config.label",
    `${LABEL_FORMAT_VERSION}=${SEED_FORMAT_VERSION}`,
    "--config.label",
    `${LABEL_CLUSTER_INFO}=${JSON.stringify(opts.clusterInfo)}`,
  ]);
  const digestFile = join(work, "digest");
  const args = [
    "copy",
    "--quiet",
    `--digestfile=${digestFile}`,
    `oci:${ref}`,
    `docker://${opts.image}`,
  ];
  if (opts.tlsVerify === false) args.push("--dest-tls-verify=false");
  if (opts.authfile) args.push(`--dest-authfile=${opts.authfile}`);
  await run("skopeo", args);
  return { digest: readFileSync(digestFile, "utf8").trim() };
}
