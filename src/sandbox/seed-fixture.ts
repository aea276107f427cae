// A seed published to a test registry: small images pushed, then a real seed built from a
// seed cluster's sysroot that lists them for precache.
import { buildSeed } from "../../addon/agent/seed/build.js";
import { defaultClusterInfo } from "../../addon/agent/seed/format.js";
import { pushTinyImage } from "./images.js";
import type { TestRegistry } from "./registry.js";
import type { TestSysroot } from "./sysroot.js";

export async function publishSeed(
  registry: TestRegistry,
  seedCluster: TestSysroot,
  opts: { version: string; imageNames: readonly string[] },
): Promise<{ seed: string; images: string[] }> {
  const images = opts.imageNames.map(n => `${registry.host}/ocp/${n}:${opts.version}`);
  for (const image of images) await pushTinyImage(image);
  const seed = `${registry.host}/seeds/sno:${opts.version}`;
  await buildSeed({
    sysroot: seedCluster.dir,
    version: opts.version,
    clusterInfo: {
      ...defaultClusterInfo(opts.version),
      sno_hostname: seedCluster.identity.hostname,
      cluster_name: seedCluster.identity.clusterName,
      base_domain: seedCluster.identity.baseDomain,
      node_ips: [seedCluster.identity.ip],
    },
    images,
    image: seed,
    tlsVerify: false,
  });
  return { seed, images };
}
