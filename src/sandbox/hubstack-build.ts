// Finds or builds the real hub stack: ACM's governance controllers, OCM's placement, work and
// addon-manager, the PlacementRule controller, TALM, Argo CD and the kustomize it runs, each built with `go build` from a pinned
// wrapper module in src/sandbox/go/ into a versioned cache outside the repo (the control plane's
// mechanism: rebuilt only when a pin or flag changes, atomic). IBU_GITOPS_HUBSTACK_BIN overrides it.
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  cacheRoot,
  ensureBuilt,
  recipeDigest,
  requiredVersion,
  type BuildStep,
} from "./controlplane-build.js";

/** One hub-stack binary: where it comes from and what it is called in the cache. */
export interface HubStackPart {
  readonly out: HubStackBinary;
  readonly wrapper: string;
  readonly module: string;
  readonly pkg: string;
  /** `-X` version stamps for the linker, as upstream's Makefile sets them. */
  readonly stamp?: readonly string[];
}

const ARGOCD_COMMON = "github.com/argoproj/argo-cd/v3/common";

export const HUB_STACK_PARTS = [
  {
    out: "governance-policy-propagator",
    wrapper: "propagator",
    module: "open-cluster-management.io/governance-policy-propagator",
    pkg: "open-cluster-management.io/governance-policy-propagator",
  },
  {
    out: "config-policy-controller",
    wrapper: "config-policy-controller",
    module: "open-cluster-management.io/config-policy-controller",
    pkg: "open-cluster-management.io/config-policy-controller",
  },
  {
    out: "governance-policy-framework-addon",
    wrapper: "framework-addon",
    module: "open-cluster-management.io/governance-policy-framework-addon",
    pkg: "open-cluster-management.io/governance-policy-framework-addon",
  },
  {
    out: "placement",
    wrapper: "ocm",
    module: "open-cluster-management.io/ocm",
    pkg: "open-cluster-management.io/ocm/cmd/placement",
  },
  {
    out: "work",
    wrapper: "ocm",
    module: "open-cluster-management.io/ocm",
    pkg: "open-cluster-management.io/ocm/cmd/work",
  },
  {
    out: "addon",
    wrapper: "ocm",
    module: "open-cluster-management.io/ocm",
    pkg: "open-cluster-management.io/ocm/cmd/addon",
  },
  {
    out: "placementrule",
    wrapper: "placementrule",
    module: "open-cluster-management.io/multicloud-operators-subscription",
    // The wrapper's own main.go: upstream's cmd/placementrule with its metrics address settable.
    pkg: ".",
  },
  {
    out: "talm",
    wrapper: "talm",
    module: "github.com/openshift-kni/cluster-group-upgrades-operator",
    pkg: "github.com/openshift-kni/cluster-group-upgrades-operator",
  },
  {
    // One multi-call binary: the component is chosen by ARGOCD_BINARY_NAME (src/sandbox/argocd.ts).
    out: "argocd",
    wrapper: "argocd",
    module: "github.com/argoproj/argo-cd/v3",
    pkg: "github.com/argoproj/argo-cd/v3/cmd",
    // Upstream's Makefile stamps the version; unstamped it reports v99.99.99+unknown.
    stamp: [
      `${ARGOCD_COMMON}.version=3.2.6`,
      `${ARGOCD_COMMON}.gitTag=v3.2.6`,
      `${ARGOCD_COMMON}.gitTreeState=clean`,
    ],
  },
  {
    // What Argo CD's repo-server runs to render a folder with a kustomization.yaml.
    out: "kustomize",
    wrapper: "kustomize",
    module: "sigs.k8s.io/kustomize/kustomize/v5",
    pkg: "sigs.k8s.io/kustomize/kustomize/v5",
  },
] as const satisfies readonly HubStackPart[];

export type HubStackBinary =
  | "governance-policy-propagator"
  | "config-policy-controller"
  | "governance-policy-framework-addon"
  | "placement"
  | "work"
  | "addon"
  | "placementrule"
  | "talm"
  | "argocd"
  | "kustomize";

export interface HubStackBinaries {
  readonly dir: string;
  /** How they were obtained, for logs and benchmarks. */
  readonly source: "IBU_GITOPS_HUBSTACK_BIN" | "cache" | "built";
  path(name: HubStackBinary): string;
}

/** The exact `go build` invocations: part of the cache key, so a flag change rebuilds. */
export function hubStackRecipe(parts: readonly HubStackPart[] = HUB_STACK_PARTS): BuildStep[] {
  return parts.map(p => ({
    wrapper: p.wrapper,
    out: p.out,
    args: [["-ldflags=-s -w", ...(p.stamp ?? []).map(x => `-X ${x}`)].join(" "), p.pkg],
  }));
}

/** Each part's pinned version, read from its wrapper's go.mod: "module@version" lines for logs. */
export function hubStackPins(parts: readonly HubStackPart[] = HUB_STACK_PARTS): string[] {
  return [...new Set(parts.map(p => `${p.module}@${requiredVersion(p.wrapper, p.module)}`))];
}

/** The versioned cache folder for the current pins: ~/.cache/ibu-gitops/hubstack/<digest>. */
export function hubStackCacheDir(): string {
  return join(cacheRoot(), "hubstack", recipeDigest(hubStackRecipe()));
}

function binaries(dir: string, source: HubStackBinaries["source"]): HubStackBinaries {
  return { dir, source, path: name => join(dir, name) };
}

/**
 * Returns the hub stack's binaries: from $IBU_GITOPS_HUBSTACK_BIN when set (a folder holding
 * every binary of HUB_STACK_PARTS under its `out` name), else from the cache, else built now
 * (about 40 minutes on 2 cores with a cold Go cache; seconds once the cache is warm).
 * Rejects with the module and version the Go module proxy did not serve, or the missing binaries.
 */
export async function ensureHubStackBinaries(
  opts: {
    log?: (line: string) => void;
    onStep?: (done: number, total: number, building: string) => void;
  } = {},
): Promise<HubStackBinaries> {
  const given = process.env.IBU_GITOPS_HUBSTACK_BIN;
  if (given) {
    const dir = resolve(given);
    const missing = HUB_STACK_PARTS.map(p => p.out).filter(n => !isExecutable(join(dir, n)));
    if (missing.length)
      throw new Error(
        `IBU_GITOPS_HUBSTACK_BIN=${given} lacks executable ${missing.join(", ")}; point it at a ` +
          "folder holding every hub-stack binary, or unset it to build them with Go (npm run hubstack)",
      );
    return binaries(dir, "IBU_GITOPS_HUBSTACK_BIN");
  }
  const dir = hubStackCacheDir();
  const built = await ensureBuilt(dir, hubStackRecipe(), opts.log, opts.onStep);
  return binaries(dir, built ? "built" : "cache");
}

function isExecutable(p: string): boolean {
  return existsSync(p) && (statSync(p).mode & 0o111) !== 0;
}

// `npm run hubstack`: build (or find) the binaries and print where they are.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  console.error(`hub stack pins: ${hubStackPins().join(", ")}`);
  ensureHubStackBinaries({ log: l => console.error(l) }).then(
    b => {
      console.error(
        `hub-stack binaries (${b.source}) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      console.log(b.dir);
    },
    (err: unknown) => {
      console.error(`error: ${(err as Error).message}`);
      process.exit(1);
    },
  );
}
