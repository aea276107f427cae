// Finds or builds the control-plane binaries (kube-apiserver, etcd, kubectl,
// kube-controller-manager). They are built
// with `go build` from the pinned wrapper modules in src/sandbox/go/, into a versioned cache
// outside the repo, and rebuilt only when the pins change. KUBEBUILDER_ASSETS overrides it all.
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../package-root.js";
import { runGo } from "./go.js";

/**
 * The wrapper modules (src/sandbox/go/<name>): pinned go.mod/go.sum, sometimes a main. From the
 * package root, so the compiled CLI in dist/ finds them too (they are not compiled).
 */
export const WRAPPERS = join(packageRoot(), "src", "sandbox", "go");
export const BINARY_NAMES = [
  "kube-apiserver",
  "etcd",
  "kubectl",
  "kube-controller-manager",
] as const;
export type BinaryName = (typeof BINARY_NAMES)[number];

export interface ControlPlaneBinaries {
  readonly dir: string;
  readonly kubeApiserver: string;
  readonly etcd: string;
  readonly kubectl: string;
  readonly kubeControllerManager: string;
  /** How they were obtained, for logs and benchmarks. */
  readonly source: "KUBEBUILDER_ASSETS" | "cache" | "built";
}

export interface Pins {
  readonly kubernetes: string;
  readonly etcd: string;
  /** Hash of the wrapper modules and build flags: changes whenever a rebuild is needed. */
  readonly digest: string;
}

/** Reads the pinned versions from the wrapper go.mod files. */
export function readPins(wrappers = WRAPPERS): Pins {
  const kubernetes = requiredVersion("kubernetes", "k8s.io/kubernetes", wrappers);
  const etcd = requiredVersion("etcd", "go.etcd.io/etcd/server/v3", wrappers);
  return { kubernetes, etcd, digest: recipeDigest(buildRecipe(kubernetes, etcd), wrappers) };
}

/** The version a wrapper module (src/sandbox/go/<wrapper>/go.mod) pins `module` at. */
export function requiredVersion(wrapper: string, module: string, wrappers = WRAPPERS): string {
  return requireVersion(
    readFileSync(join(wrappers, wrapper, "go.mod"), "utf8"),
    module,
    `${wrapper}/go.mod`,
  );
}

/** Hash of the wrapper modules a recipe uses and of its flags: changes whenever a rebuild is needed. */
export function recipeDigest(recipe: readonly BuildStep[], wrappers = WRAPPERS): string {
  const h = createHash("sha256");
  for (const w of [...new Set(recipe.map(r => r.wrapper))].sort()) {
    // A wrapper's own Go files (a main package) are part of what is built.
    const goFiles = readdirSync(join(wrappers, w))
      .filter(f => f.endsWith(".go"))
      .sort();
    for (const f of ["go.mod", "go.sum", ...goFiles])
      h.update(`${w}/${f}`).update(readFileSync(join(wrappers, w, f)));
  }
  h.update(JSON.stringify(recipe));
  return h.digest("hex").slice(0, 12);
}

function requireVersion(goMod: string, module: string, file: string): string {
  // Either `require m v` or a line `m v` inside a require block.
  const m = new RegExp(`^(?:require)?\\s+${module.replace(/\./g, "\\.")}\\s+(v\\S+)`, "m").exec(
    goMod,
  );
  if (!m?.[1]) throw new Error(`src/sandbox/go/${file} does not require ${module} at a version`);
  return m[1];
}

/** One `go build` in a wrapper module: `go build -o <dir>/<out> <args>`. */
export interface BuildStep {
  readonly wrapper: string;
  readonly out: string;
  readonly args: readonly string[];
}

/** The exact `go build` invocations: part of the cache key, so a flag change rebuilds. */
export function buildRecipe(
  kubernetes: string,
  etcd: string,
): Array<BuildStep & { out: BinaryName }> {
  const [, major = "", minor = ""] = /^v(\d+)\.(\d+)\./.exec(kubernetes) ?? [];
  const stamp = ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap(pkg => [
    `-X ${pkg}.gitVersion=${kubernetes}`,
    `-X ${pkg}.gitMajor=${major}`,
    `-X ${pkg}.gitMinor=${minor}`,
    `-X ${pkg}.gitTreeState=clean`,
  ]);
  const k8sFlags = ["-tags=selinux,notest,grpcnotrace", `-ldflags=-s -w ${stamp.join(" ")}`];
  return [
    {
      wrapper: "etcd",
      out: "etcd",
      args: [
        `-ldflags=-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${etcd}`,
        "go.etcd.io/etcd/server/v3",
      ],
    },
    {
      wrapper: "kubernetes",
      out: "kube-apiserver",
      args: [...k8sFlags, "k8s.io/kubernetes/cmd/kube-apiserver"],
    },
    { wrapper: "kubernetes", out: "kubectl", args: [...k8sFlags, "k8s.io/kubernetes/cmd/kubectl"] },
    {
      wrapper: "kubernetes",
      out: "kube-controller-manager",
      args: [...k8sFlags, "k8s.io/kubernetes/cmd/kube-controller-manager"],
    },
  ];
}

/** Root of the project's cache: $IBU_GITOPS_CACHE, else $XDG_CACHE_HOME/ibu-gitops, else ~/.cache/ibu-gitops. */
export function cacheRoot(): string {
  if (process.env.IBU_GITOPS_CACHE) return resolve(process.env.IBU_GITOPS_CACHE);
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "ibu-gitops");
}

export function cacheDirFor(pins: Pins): string {
  return join(
    cacheRoot(),
    "controlplane",
    `k8s-${pins.kubernetes}_etcd-${pins.etcd}_${pins.digest}`,
  );
}

function binariesIn(dir: string, source: ControlPlaneBinaries["source"]): ControlPlaneBinaries {
  return {
    dir,
    kubeApiserver: join(dir, "kube-apiserver"),
    etcd: join(dir, "etcd"),
    kubectl: join(dir, "kubectl"),
    kubeControllerManager: join(dir, "kube-controller-manager"),
    source,
  };
}

/**
 * What KUBEBUILDER_ASSETS must hold: envtest's three. kube-controller-manager is optional there
 * (setup-envtest does not ship it); only a control plane started with `controllerManager` needs it.
 */
const REQUIRED_ASSETS = ["kube-apiserver", "etcd", "kubectl"] as const;

function missingIn(dir: string): string[] {
  return REQUIRED_ASSETS.filter(n => !isExecutable(join(dir, n)));
}

export interface EnsureOptions {
  /** Called with a line of progress while building. */
  readonly log?: (line: string) => void;
  /** Called before each binary is built (done of total), and once more when all are built. */
  readonly onStep?: (done: number, total: number, building: string) => void;
}

/**
 * Returns usable control-plane binaries: from KUBEBUILDER_ASSETS when set (envtest's
 * convention), else from the cache, else built now. A build writes into a temporary sibling
 * folder and renames it into place, so an interrupted build never leaves a half-filled cache.
 */
export async function ensureControlPlaneBinaries(
  opts: EnsureOptions = {},
): Promise<ControlPlaneBinaries> {
  const assets = process.env.KUBEBUILDER_ASSETS;
  if (assets) {
    const missing = missingIn(assets);
    if (missing.length) {
      throw new Error(
        `KUBEBUILDER_ASSETS=${assets} lacks executable ${missing.join(", ")}; ` +
          "point it at a folder holding kube-apiserver, etcd and kubectl (and kube-controller-manager for the hub stack), or unset it to build them with Go",
      );
    }
    return binariesIn(assets, "KUBEBUILDER_ASSETS");
  }
  const pins = readPins();
  const dir = cacheDirFor(pins);
  const built = await ensureBuilt(
    dir,
    buildRecipe(pins.kubernetes, pins.etcd),
    opts.log,
    opts.onStep,
  );
  return binariesIn(dir, built ? "built" : "cache");
}

/**
 * Makes sure `dir` holds every binary of `recipe`, building them when one is missing. Resolves
 * true when it built. A build writes into a temporary sibling folder and renames it into
 * place, so an interrupted build never leaves a half-filled cache entry.
 */
export async function ensureBuilt(
  dir: string,
  recipe: readonly BuildStep[],
  log: (line: string) => void = () => {},
  onStep?: (done: number, total: number, building: string) => void,
): Promise<boolean> {
  if (recipe.every(step => isExecutable(join(dir, step.out)))) return false;
  const staging = `${dir}.building-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    for (const [i, step] of recipe.entries()) {
      const started = Date.now();
      onStep?.(i, recipe.length, step.out);
      log(`building ${step.out} ...`);
      await runGo(
        ["build", "-o", join(staging, step.out), ...step.args],
        join(WRAPPERS, step.wrapper),
      );
      log(`built ${step.out} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
    onStep?.(recipe.length, recipe.length, "");
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return true;
}

function isExecutable(p: string): boolean {
  return existsSync(p) && (statSync(p).mode & 0o111) !== 0;
}

// `npm run controlplane`: build (or find) the binaries and print where they are.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  ensureControlPlaneBinaries({ log: l => console.error(l) }).then(
    b => {
      console.error(
        `control-plane binaries (${b.source}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      console.log(b.dir);
    },
    (err: unknown) => {
      console.error(`error: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
