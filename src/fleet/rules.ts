// Rules across fields of one fleet that concern what the generator emits: the IBU annotations
// passed through, per-stage TALM options, the namespaces a fleet owns on the hub, and the
// names Argo CD and OCM derive from ours. Each returns problems; load.ts reports them.
import { clip, didYouMean, show } from "./errors.js";
import type { FleetSpec } from "./model.js";
import { LABEL_VALUE_MAX, policyNames } from "./names.js";
import { STAGE_STEPS } from "./model.js";

type Problem = { path: Array<string | number>; message: string };

/** Annotation keys the fleet file sets through other fields (autoRollback, imageCleanup). */
const DERIVED_ANNOTATIONS: Readonly<Record<string, string>> = {
  "auto-rollback-on-failure.lca.openshift.io/init-monitor":
    "spec.autoRollback.onInitMonitorTimeout",
  "auto-rollback-on-failure.lca.openshift.io/post-reboot-config":
    "spec.autoRollback.onPostRebootConfigFailure",
  "auto-rollback-on-failure.lca.openshift.io/upgrade-completion":
    "spec.autoRollback.onUpgradeFailure",
  "image-cleanup.lca.openshift.io/on-prep": "spec.imageCleanup.onPrep",
  "image-cleanup.lca.openshift.io/disk-usage-threshold-percent":
    "spec.imageCleanup.diskUsageThresholdPercent",
};

/**
 * The IBU annotations LCA reads that a fleet may set (docs: shared reference lca.md §1.3), each
 * with LCA's rule for its value, or undefined when any value does.
 */
const LCA_ANNOTATIONS: Readonly<
  Record<string, ((value: string) => string | undefined) | undefined>
> = {
  // LCA retries a failed finalize or abort when it appears (controllers/idle_handlers.go).
  "lca.openshift.io/manual-cleanup-done": undefined,
  // Any new value makes LCA reconcile.
  "lca.openshift.io/trigger-reconcile": undefined,
  // internal/extramanifest/policy.go compares the value with strconv.Itoa(count) as strings, so
  // only a count written as Itoa writes it can ever match; anything else fails Prep and Upgrade.
  "lca.openshift.io/target-ocp-version-manifest-count": v =>
    /^(0|[1-9][0-9]{0,17})$/.test(v)
      ? undefined
      : `${show(v)} is not a count such as "3": LCA compares it with the number of manifests labelled lca.openshift.io/target-ocp-version as text (strconv.Itoa), so anything else fails Prep`,
  // Written by LCA itself (internal/extramanifest/extramanifest.go).
  "extra-manifest.lca.openshift.io/validation-warning": () =>
    "is written by LCA (the extra manifests' dry-run warnings), not read: leave it out",
};

/**
 * spec.ibuAnnotations: LCA reads only its own annotations, and TALM's IBGU copies onto the IBU
 * only keys containing "lca.openshift.io" (controllers/imagebasedgroupupgrade.go,
 * LcaAnnotationSuffix), so other keys would silently do nothing; keys another field sets are
 * refused so there is one place for each. A known annotation's value is checked as LCA reads
 * it; an unknown key near a known one is a typo (an unknown key far from all is let through: a
 * newer LCA may read it).
 */
export function ibuAnnotationProblems(spec: Pick<FleetSpec, "ibuAnnotations">): Problem[] {
  const out: Problem[] = [];
  const known = [...Object.keys(LCA_ANNOTATIONS), ...Object.keys(DERIVED_ANNOTATIONS)];
  for (const [key, value] of Object.entries(spec.ibuAnnotations ?? {})) {
    const path = ["spec", "ibuAnnotations", key];
    if (!key.includes("lca.openshift.io"))
      out.push({
        path,
        message: `${clip(key)} is not an LCA annotation; only keys containing lca.openshift.io reach the ImageBasedUpgrade (TALM copies only those)`,
      });
    else if (DERIVED_ANNOTATIONS[key])
      out.push({ path, message: `${key} is set by ${DERIVED_ANNOTATIONS[key]}; use that field` });
    else if (key in LCA_ANNOTATIONS) {
      const problem = typeof value === "string" ? LCA_ANNOTATIONS[key]?.(value) : undefined;
      if (problem) out.push({ path, message: problem });
    } else {
      const hint = didYouMean(key, known);
      if (hint)
        out.push({ path, message: `LCA reads no annotation ${clip(key)}; did you mean ${hint}?` });
    }
  }
  return out;
}

/**
 * CGU-only fields in the ibgu flavour: an IBGU plan item's rolloutStrategy has maxConcurrency
 * and timeout only (no batchTimeoutAction). Canaries, which IBGU-made CGUs lack too (TALM's
 * GenerateClusterGroupUpgradeForPlanItem), are checked with the group (load.ts).
 */
export function cguOnlyFieldProblems(spec: Pick<FleetSpec, "flavour" | "rollout">): Problem[] {
  if (spec.flavour !== "ibgu") return [];
  return STAGE_STEPS.filter(step => spec.rollout[step].batchTimeoutAction !== undefined).map(
    step => ({
      path: ["spec", "rollout", step, "batchTimeoutAction"],
      message:
        "applies to the cgu flavour only (an IBGU plan item's rolloutStrategy has maxConcurrency and timeout only)",
    }),
  );
}

/** The hub namespaces a fleet writes into (the addon's own namespace aside). */
export function fleetNamespaces(spec: FleetSpec): string[] {
  const names = new Set([spec.hub.policyNamespace, spec.hub.upgradeNamespace]);
  if (spec.flavour === "ibgu") names.add(spec.oadp.configMap.namespace);
  return [...names].sort();
}

/** hub.ownedNamespaces: only namespaces the fleet writes into, never `default`. */
export function ownedNamespaceProblems(spec: FleetSpec): Problem[] {
  const mine = fleetNamespaces(spec);
  return spec.hub.ownedNamespaces.flatMap((ns, i) => {
    const path = ["spec", "hub", "ownedNamespaces", i];
    if (spec.hub.ownedNamespaces.indexOf(ns) < i)
      return [{ path, message: `${ns} is listed twice` }];
    if (ns === "default")
      return [{ path, message: "default is the cluster's own; it cannot be owned" }];
    if (!mine.includes(ns))
      return [
        {
          path,
          message: `${ns} is not a namespace this fleet writes into (${mine.join(", ")})`,
        },
      ];
    return [];
  });
}

/**
 * A name OCM writes into a label value: each policy's Placement (OCM labels its
 * PlacementDecisions cluster.open-cluster-management.io/placement=<placement>). The Application
 * name (Argo CD's tracking label) is checked by load.ts.
 */
export function derivedNameProblems(spec: FleetSpec): Problem[] {
  const out: Problem[] = [];
  const longest = (Object.values(policyNames(spec.policyName)) as string[]).reduce((a, b) =>
    b.length > a.length ? b : a,
  );
  const placement = `placement-${longest}`;
  // A policy over ACM's namespace + name limit is reported once, by load.ts, at the same field.
  const policyFits = spec.hub.policyNamespace.length + longest.length <= 62;
  if (policyFits && placement.length > LABEL_VALUE_MAX)
    out.push({
      path: ["spec", "policyName"],
      message: `Placement ${placement} is ${placement.length} characters; OCM writes it into the label cluster.open-cluster-management.io/placement (at most ${LABEL_VALUE_MAX}): shorten spec.policyName by ${placement.length - LABEL_VALUE_MAX}`,
    });
  return out;
}
