// `ibu-gitops seed build`: a seed image from a stateroot, pushed to a registry.
import { readFileSync } from "node:fs";
import { buildSeed } from "../../addon/agent/seed/build.js";
import { defaultClusterInfo, type SeedClusterInfo } from "../../addon/agent/seed/format.js";

export interface SeedArgs {
  readonly sysroot?: string;
  readonly version?: string;
  readonly image?: string;
  readonly stateroot?: string;
  readonly clusterInfo?: string;
  readonly imagesFile?: string;
  readonly tlsVerify: boolean;
  readonly authfile?: string;
}

export async function runSeedBuild(a: SeedArgs, log: (s: string) => void): Promise<number> {
  const missing = (["sysroot", "version", "image"] as const).filter(k => !a[k]);
  if (missing.length) throw new Error(`seed build needs ${missing.map(m => `--${m}`).join(", ")}`);
  const clusterInfo: SeedClusterInfo = {
    ...defaultClusterInfo(a.version!),
    ...(a.clusterInfo
      ? (JSON.parse(readFileSync(a.clusterInfo, "utf8")) as Partial<SeedClusterInfo>)
      : {}),
  };
  if (clusterInfo.seed_cluster_ocp_version !== a.version) {
    throw new Error(
      `--cluster-info says seed_cluster_ocp_version ${clusterInfo.seed_cluster_ocp_version}, but --version is ${a.version}`,
    );
  }
  const images = a.imagesFile
    ? readFileSync(a.imagesFile, "utf8")
        .split("\n")
        .map(l => l.trim())
        .filter(l => l && !l.startsWith("#"))
    : [];
  const { digest } = await buildSeed({
    sysroot: a.sysroot!,
    version: a.version,
    stateroot: a.stateroot,
    clusterInfo,
    images,
    image: a.image!,
    tlsVerify: a.tlsVerify,
    authfile: a.authfile,
  });
  log(`pushed seed ${a.image}@${digest} (${images.length} images to precache)`);
  return 0;
}
