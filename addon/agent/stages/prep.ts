// Prep: validate the seed, set up the new stateroot from it, precache the images the new
// version needs. Every step can run again after a crash: finished steps leave a marker in
// LCA's workspace, and each step is itself safe to repeat.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../exec.js";
import { inspectLabels, type RegistryAccess } from "../drivers/images.js";
import {
  LABEL_CLUSTER_INFO,
  LABEL_FORMAT_VERSION,
  SEED_FORMAT_VERSION,
  SeedFile,
  staterootName,
  type SeedClusterInfo,
} from "../seed/format.js";
import type { StageContext, StageOutcome } from "./context.js";
import { compareVersions, versionParseError } from "./versions.js";
import { listIfServed } from "../health.js";
import { usagePercent } from "../drivers/disk.js";
import { Annotation, Msg } from "../ibu-types.js";
import { validateExtraManifests, validateOadpContent, ValidationError } from "./validate.js";
import { cleanupStaleBackups, clusterId, loadOadpContent } from "./oadp.js";
import {
  ManifestCountError,
  MANIFEST_COUNT_ANNOTATION,
  policyManifests,
} from "./policy-manifests.js";
import { pkiRoots, saveSigners } from "../drivers/crypto.js";

/** Where Prep keeps the cluster's own signers in the new stateroot (LCA's kubeconfig-crypto). */
export const keptSignersDir = (staterootVar: string): string =>
  join(staterootVar, "opt", "openshift", "kubeconfig-crypto");

/** Parallel image pulls during precache (LCA's MAX_PULL_THREADS defaults to 10). */
const PULL_THREADS = Number(process.env.IBU_GITOPS_PULL_THREADS ?? 4);

export interface PrecacheStatus {
  total: number;
  pulled: number;
  failed: number;
  failed_pulls: string[];
  /** Images the store already had before this Prep: a cancel leaves them. */
  preexisting: string[];
}

class PrepFailure extends Error {}

export async function prep(ctx: StageContext): Promise<StageOutcome> {
  // LCA: every Prep reconcile first waits for a healthy cluster.
  const unhealthy = await ctx.health("all");
  if (unhealthy) {
    await ctx.progress(
      `Waiting for system to stabilize before Prep stage can continue: ${unhealthy}`,
    );
    return { kind: "waiting" };
  }
  try {
    const ws = ctx.node.workspace();
    mkdirSync(ws, { recursive: true, mode: 0o700 });
    const seed = ctx.ibu.spec.seedImageRef ?? {};
    if (!seed.image || !seed.version)
      throw new PrepFailure(
        "failed to validate IBU spec: spec.seedImageRef.image and version are required",
      );
    const secret = seed.pullSecretRef ? await ctx.pullSecret(seed.pullSecretRef.name) : undefined;
    if (seed.pullSecretRef && secret === undefined) {
      throw new PrepFailure(
        `failed to validate IBU spec: pull secret ${seed.pullSecretRef.name} not found or has no .dockerconfigjson`,
      );
    }
    const access = ctx.node.access(seed.image, secret);
    if (!marker(ws, "seed-validated")) {
      // LCA's order: the IBU spec (version, OADP content, extra manifests), then the seed image.
      await validateVersion(ctx, seed.version);
      if (!(await validateManifests(ctx))) return { kind: "waiting" };
      await validateSeed(ctx, seed.image, seed.version, access);
      setMarker(ws, "seed-validated");
    }
    if (!marker(ws, "stateroot-done")) {
      cleanImages(ctx);
      await ctx.startPhase("Stateroot");
      await ctx.progress("Stateroot setup in progress");
      await setupStateroot(ctx, seed.image, seed.version, access).catch((err: unknown) => {
        // Like LCA's stateroot job failing: the stage fails; a cancel cleans up.
        throw err instanceof PrepFailure
          ? err
          : new PrepFailure(`stateroot setup failed to complete: ${(err as Error).message}`);
      });
      setMarker(ws, "stateroot-done");
      await ctx.stopPhase("Stateroot");
    }
    if (!marker(ws, "precache-done")) {
      await ctx.startPhase("Precache");
      await precache(ctx, access);
      setMarker(ws, "precache-done");
      await ctx.stopPhase("Precache");
    }
    const warned = ctx.ibu.metadata.annotations?.[Annotation.extraManifestWarning] !== undefined;
    return { kind: "done", message: warned ? Msg.prepStageCompletedWithWarning : undefined };
  } catch (err) {
    if (err instanceof PrepFailure) return { kind: "failed", message: err.message };
    throw err;
  }
}

function marker(ws: string, name: string): boolean {
  return existsSync(join(ws, `${name}.done`));
}

function setMarker(ws: string, name: string): void {
  writeFileSync(join(ws, `${name}.done`), new Date().toISOString());
}

/** The version a stateroot was set up for, from LCA's stateroot name `rhcos_<version>`. */
export function currentVersion(stateroot: string): string | undefined {
  return /^rhcos_(.+)$/.exec(stateroot)?.[1]?.replace(/_/g, "-");
}

const CLUSTER_VERSIONS = "/apis/config.openshift.io/v1/clusterversions";

/**
 * The cluster's current OpenShift version, as LCA reads it: ClusterVersion `version`'s
 * `status.desired.version`. Where the cluster does not serve ClusterVersion (plain
 * Kubernetes), the booted stateroot's name stands in; a stateroot not named by LCA (`rhcos`)
 * gives none, and the version check is skipped.
 */
async function clusterCurrentVersion(ctx: StageContext): Promise<string | undefined> {
  const versions = await listIfServed(ctx.api, CLUSTER_VERSIONS);
  if (!versions) return currentVersion(ctx.node.booted().stateroot);
  const cv = versions.find(v => v.metadata.name === "version");
  if (!cv) {
    throw new PrepFailure(
      `failed to validate IBU spec: failed to get ClusterVersion for target: clusterversions.config.openshift.io "version" not found`,
    );
  }
  const desired = cv.status?.desired as { version?: string } | undefined;
  const version = desired?.version ?? "";
  const bad = versionParseError(version);
  if (bad) {
    throw new PrepFailure(
      `failed to validate IBU spec: failed to parse target version ${version}: ${bad}`,
    );
  }
  return version;
}

async function validateVersion(ctx: StageContext, version: string): Promise<void> {
  const current = await clusterCurrentVersion(ctx);
  if (current && compareVersions(version, current) <= 0) {
    throw new PrepFailure(
      `failed to validate IBU spec: seed OCP version (${version}) must be higher than current OCP version (${current})`,
    );
  }
}

async function validateSeed(
  ctx: StageContext,
  image: string,
  version: string,
  access: RegistryAccess,
): Promise<void> {
  let labels: Record<string, string>;
  try {
    labels = await inspectLabels(image, access);
  } catch (err) {
    throw new PrepFailure(`failed to validate seed image info: ${(err as Error).message}`);
  }
  const format = labels[LABEL_FORMAT_VERSION];
  if (format === undefined) {
    throw new PrepFailure(
      `failed to validate seed image info: seed image is missing the ${LABEL_FORMAT_VERSION} label, please build a new image using the latest version of the lca-cli`,
    );
  }
  if (format !== SEED_FORMAT_VERSION) {
    throw new PrepFailure(
      `failed to validate seed image info: seed image format version mismatch: expected ${SEED_FORMAT_VERSION}, got ${format}`,
    );
  }
  let info: SeedClusterInfo;
  try {
    info = JSON.parse(labels[LABEL_CLUSTER_INFO] ?? "") as SeedClusterInfo;
  } catch {
    throw new PrepFailure(
      `failed to validate seed image info: seed image label ${LABEL_CLUSTER_INFO} is missing or not JSON`,
    );
  }
  if (info.seed_cluster_ocp_version !== version) {
    throw new PrepFailure(
      `version specified in seed image (${info.seed_cluster_ocp_version}) differs from version in spec (${version})`,
    );
  }
  const incompatible = await seedIncompatibility(ctx.api, info);
  if (incompatible) throw new PrepFailure(`failed to validate seed image info: ${incompatible}`);
}

type Proxy = {
  spec?: {
    httpProxy?: string;
    httpsProxy?: string;
    noProxy?: string;
    trustedCA?: { name?: string };
  };
};

/**
 * LCA's seed compatibility checks against the cluster: recert cannot add or remove a proxy,
 * FIPS or the user CA bundle, so the seed must have them exactly when the cluster does. A kind
 * the cluster does not serve (plain Kubernetes: no Proxy, no MachineConfig) is not compared.
 */
async function seedIncompatibility(
  api: StageContext["api"],
  seed: SeedClusterInfo,
): Promise<string | undefined> {
  const proxy = await api.get<Proxy>("/apis/config.openshift.io/v1/proxies/cluster");
  if (proxy) {
    const hasProxy = !!(proxy.spec?.httpProxy || proxy.spec?.httpsProxy || proxy.spec?.noProxy);
    if (seed.has_proxy && !hasProxy)
      return "checking seed image compatibility: seed image has a proxy but the cluster being upgraded does not, this combination is not supported";
    if (!seed.has_proxy && hasProxy)
      return "checking seed image compatibility: seed image does not have a proxy but the cluster being upgraded does, this combination is not supported";
    const bundle = await api.get<{ data?: Record<string, string> }>(
      "/api/v1/namespaces/openshift-config/configmaps/user-ca-bundle",
    );
    const hasUserCaBundle = !!bundle?.data?.["ca-bundle.crt"];
    const trust = seed.additionalTrustBundle;
    const cm = "openshift-config/user-ca-bundle";
    if (trust?.hasUserCaBundle && !hasUserCaBundle)
      return `checking seed image additional trust bundle compatibility: seed image has an ${cm} configmap but the cluster being upgraded does not, this combination is not supported`;
    if (trust && !trust.hasUserCaBundle && hasUserCaBundle)
      return `checking seed image additional trust bundle compatibility: seed image does not have an ${cm} configmap but the cluster being upgraded does, this combination is not supported`;
    const name = proxy.spec?.trustedCA?.name ?? "";
    if (trust && trust.proxyConfigmapName !== name)
      return `checking seed image additional trust bundle compatibility: seed image's Proxy trustedCA configmap name ${JSON.stringify(trust.proxyConfigmapName)} (oc get proxy -oyaml) mismatches cluster's name ${JSON.stringify(name)}, this combination is not supported`;
  }
  const fips = await clusterFips(api);
  if (fips !== undefined && seed.has_fips !== fips)
    return seed.has_fips
      ? "checking seed image compatibility: seed image has FIPS enabled but the cluster being upgraded does not, this combination is not supported"
      : "checking seed image compatibility: seed image does not have FIPS enabled but the cluster being upgraded does, this combination is not supported";
  return undefined;
}

/** FIPS from the node's current MachineConfig (LCA's HasFIPS); undefined where not served. */
async function clusterFips(api: StageContext["api"]): Promise<boolean | undefined> {
  const nodes = await api.list<{ metadata: { annotations?: Record<string, string> } }>(
    "/api/v1/nodes",
  );
  const current =
    nodes.length === 1
      ? nodes[0]!.metadata.annotations?.["machineconfiguration.openshift.io/currentConfig"]
      : undefined;
  if (!current) return undefined;
  const mc = await api.get<{ spec?: { fips?: boolean } }>(
    `/apis/machineconfiguration.openshift.io/v1/machineconfigs/${current}`,
  );
  return mc ? !!mc.spec?.fips : undefined;
}

/**
 * LCA's validateIBUSpec for the OADP content and the extra manifests, by server-side dry runs.
 * Extra-manifest warnings do not fail Prep: they go into LCA's validation-warning annotation.
 * False while stale Backups of the OADP content are being deleted (Prep waits).
 */
async function validateManifests(ctx: StageContext): Promise<boolean> {
  const { oadpContent = [], extraManifests = [] } = ctx.ibu.spec;
  try {
    if (oadpContent.length) {
      await validateOadpContent(ctx.api, oadpContent);
      const { backups } = await loadOadpContent(ctx.api, oadpContent);
      const stale = await cleanupStaleBackups(
        ctx.api,
        backups,
        await clusterId(ctx.api),
        ctx.waitClock("stale Backups"),
      );
      if (stale.kind === "failed")
        throw new PrepFailure(
          `failed to validate IBU spec: failed to validate oadp configMap: Failed to cleanup stale Backups: ${stale.message}`,
        );
      if (stale.kind === "waiting") {
        await ctx.progress(`Waiting for stale Backups to be deleted: ${stale.names.join(",")}`);
        return false;
      }
    }
    if (extraManifests.length) {
      const warnings = await validateExtraManifests(ctx.api, extraManifests);
      if (warnings) await ctx.annotate(Annotation.extraManifestWarning, warnings);
    }
    // LCA checks the policy manifests here only when told how many to expect.
    const count = ctx.ibu.metadata.annotations?.[MANIFEST_COUNT_ANNOTATION];
    if (count !== undefined)
      await policyManifests(ctx.api, ctx.ibu.spec.seedImageRef?.version ?? "", count);
  } catch (err) {
    if (err instanceof ManifestCountError)
      throw new PrepFailure(
        `failed to validate IBU spec: failed to validate manifests from policies: ${err.message}`,
      );
    if (!(err instanceof ValidationError)) throw err;
    throw new PrepFailure(`failed to validate IBU spec: ${err.message}`);
  }
  return true;
}

/** Images removed per round, as LCA does, until usage is below the threshold. */
const CLEANUP_BATCH = 5;

/**
 * LCA's Prep image cleanup: when the image store's filesystem is fuller than the threshold
 * (annotation image-cleanup.lca.openshift.io/disk-usage-threshold-percent, default 50), remove
 * unpinned images, oldest first, in batches, until it is not. The on-prep annotation set to
 * Disabled turns it off; an unparsable threshold turns it off too, as in LCA.
 */
export function cleanImages(ctx: Pick<StageContext, "ibu" | "node">): string[] {
  const ann = ctx.ibu.metadata.annotations ?? {};
  if (ann[Annotation.imageCleanupOnPrep] === "Disabled") return [];
  const raw = ann[Annotation.imageCleanupThreshold];
  const threshold = raw === undefined ? 50 : Number(raw);
  if (!Number.isInteger(threshold) || threshold < 0 || threshold > 100) return [];
  const store = ctx.node.store();
  if (!existsSync(store.root)) return [];
  const removed: string[] = [];
  while (usagePercent(store.root) > threshold) {
    const batch = store
      .entries()
      .filter(e => !e.pinned)
      .slice(0, CLEANUP_BATCH)
      .map(e => e.name);
    if (!batch.length) break;
    store.removeNames(batch);
    removed.push(...batch);
  }
  return removed;
}

async function setupStateroot(
  ctx: StageContext,
  image: string,
  version: string,
  access: RegistryAccess,
): Promise<void> {
  const { ostree } = ctx.node;
  const stateroot = staterootName(version);
  const ws = ctx.node.workspace();
  const seedDir = join(ws, "seed");
  rmSync(seedDir, { recursive: true, force: true });
  mkdirSync(seedDir, { recursive: true });
  const copyArgs = [
    ...(access.authfile ? [`--src-authfile=${access.authfile}`] : []),
    ...(access.tlsVerify === false ? ["--src-tls-verify=false"] : []),
  ];
  try {
    await run("skopeo", [
      "copy",
      "--quiet",
      "--retry-times=2",
      ...copyArgs,
      `docker://${image}`,
      `oci:${join(seedDir, "oci")}:seed`,
    ]);
  } catch (err) {
    throw new PrepFailure(`failed to pull seed image: ${(err as Error).message}`);
  }
  await run("umoci", [
    "unpack",
    "--image",
    `${join(seedDir, "oci")}:seed`,
    join(seedDir, "bundle"),
  ]);
  const root = join(seedDir, "bundle", "rootfs");
  const manifest = JSON.parse(
    readFileSync(join(root, SeedFile.manifest), "utf8"),
  ) as SeedClusterInfo;
  if (manifest.seed_cluster_ocp_version !== version) {
    throw new PrepFailure(
      `version specified in seed image (${manifest.seed_cluster_ocp_version}) differs from version in spec (${version})`,
    );
  }
  const repo = join(seedDir, "repo");
  mkdirSync(repo);
  await run("tar", ["xzf", join(root, SeedFile.ostree), "-C", repo]);
  // By checksum: the commit's ref binding names the seed's own branch, not our "seed" ref.
  const checksum = await ostree.revParse("seed", repo);
  await ostree.pullLocal(repo, checksum);
  if (!ostree.stateroots().includes(stateroot)) await ostree.osInit(stateroot);
  if (!ostree.deployments().some(d => d.stateroot === stateroot)) {
    await ostree.deploy(stateroot, checksum, { kargs: [`ibu=${version}`] });
  }
  const d = ostree.deployments().find(x => x.stateroot === stateroot);
  if (!d) throw new Error(`deploying ${stateroot} left no deployment`);
  await run("tar", [
    "xzf",
    join(root, SeedFile.var),
    "-C",
    join(ostree.staterootDir(stateroot), "var"),
  ]);
  await run("tar", ["xzf", join(root, SeedFile.etc), "-C", join(d.dir, "etc")]);
  for (const f of readFileSync(join(root, SeedFile.etcDeletions), "utf8")
    .split("\n")
    .filter(Boolean)) {
    rmSync(join(d.dir, f), { force: true });
  }
  // What Upgrade and precache need later: the seed's image list and cluster information.
  writeFileSync(
    join(ws, SeedFile.containersList),
    readFileSync(join(root, SeedFile.containersList)),
  );
  writeFileSync(join(ws, SeedFile.manifest), readFileSync(join(root, SeedFile.manifest)));
  // LCA's kubeconfig-crypto: the signers kubeconfigs outside the cluster trust, kept for the
  // new stateroot so its regenerated crypto still chains to them.
  const booted = ctx.node.booted();
  saveSigners(
    pkiRoots(booted.dir, ctx.node.varOf(booted.stateroot)),
    keptSignersDir(ctx.node.varOf(stateroot)),
  );
  rmSync(seedDir, { recursive: true, force: true });
}

async function precache(ctx: StageContext, access: RegistryAccess): Promise<void> {
  const ws = ctx.node.workspace();
  const store = ctx.node.store();
  const images = readFileSync(join(ws, SeedFile.containersList), "utf8")
    .split("\n")
    .map(s => s.trim())
    .filter(Boolean);
  const statusFile = join(ws, "precache_status.json");
  const status: PrecacheStatus = existsSync(statusFile)
    ? (JSON.parse(readFileSync(statusFile, "utf8")) as PrecacheStatus)
    : {
        total: images.length,
        pulled: 0,
        failed: 0,
        failed_pulls: [],
        preexisting: images.filter(i => store.has(i)),
      };
  const save = (): void => writeFileSync(statusFile, JSON.stringify(status));
  save();
  const report = (): Promise<void> =>
    ctx.progress(
      `Precache in progress. total: ${status.total} (pulled: ${status.pulled}, failed: ${status.failed})`,
    );
  await report();
  const queue = images.filter(i => !store.has(i));
  status.pulled = images.length - queue.length;
  status.failed = 0;
  status.failed_pulls = [];
  let lastReport = Date.now();
  const worker = async (): Promise<void> => {
    for (let image = queue.shift(); image !== undefined; image = queue.shift()) {
      try {
        await store.pull(image, {
          authfile: access.authfile,
          tlsVerify: ctx.node.tlsVerifyFor(image),
        });
        status.pulled++;
      } catch {
        status.failed++;
        status.failed_pulls.push(image);
      }
      save();
      if (Date.now() - lastReport > 1000) {
        lastReport = Date.now();
        await report();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, PULL_THREADS) }, worker));
  await report();
  if (status.failed) {
    throw new PrepFailure(
      `precache failed to complete: ${status.failed} of ${status.total} images could not be pulled: ${status.failed_pulls.slice(0, 5).join(", ")}`,
    );
  }
}
