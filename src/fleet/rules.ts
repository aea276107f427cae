// Rules across fields of one fleet that concern what the generator emits: the IBU annotations
// passed through, per-stage TALM options, the namespaces a fleet owns on the hub, and the
// names Argo CD and OCM derive from ours. Each returns problems; load.ts reports them.
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
 * spec.ibuAnnotations: LCA reads only its own annotations, and TALM's IBGU copies onto the IBU
 * only keys containing "lca.openshift.io" (controllers/imagebasedgroupupgrade.go,
 * LcaAnnotationSuffix), so other keys would silently do nothing; keys another field sets are
 * refused so there is one place for each.
 */
export function ibuAnnotationProblems(spec: FleetSpec): Problem[] {
  const out: Problem[] = [];
  for (const key of Object.keys(spec.ibuAnnotations ?? {})) {
    const path = ["spec", "ibuAnnotations", key];
    if (!key.includes("lca.openshift.io"))
      out.push({
        path,
        message: `${key} is not an LCA annotation; only keys containing lca.openshift.io reach the ImageBasedUpgrade (TALM copies only those)`,
      });
    else if (DERIVED_ANNOTATIONS[key])
      out.push({ path, message: `${key} is set by ${DERIVED_ANNOTATIONS[key]}; use that field` });
  }
  return out;
}

/**
 * CGU-only fields in the ibgu flavour: an IBGU plan item's rolloutStrategy has maxConcurrency
 * and timeout only (no batchTimeoutAction), and IBGU-made CGUs have no canaries (TALM's
 * GenerateClusterGroupUpgradeForPlanItem).
 */
export function cguOnlyFieldProblems(spec: FleetSpec): Problem[] {
  if (spec.flavour !== "ibgu") return [];
  const out: Problem[] = STAGE_STEPS.filter(
    step => spec.rollout[step].batchTimeoutAction !== undefined,
  ).map(step => ({
    path: ["spec", "rollout", step, "batchTimeoutAction"],
    message:
      "applies to the cgu flavour only (an IBGU plan item's rolloutStrategy has maxConcurrency and timeout only)",
  }));
  spec.groups.forEach((g, i) => {
    if (g.canaries.length)
      out.push({
        path: ["spec", "groups", i, "canaries"],
        message: "applies to the cgu flavour only (TALM's IBGU has no canaries)",
      });
  });
  return out;
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

/** Every generator rule above, for load.ts. */
export function generatorProblems(spec: FleetSpec): Problem[] {
  return [
    ...ibuAnnotationProblems(spec),
    ...cguOnlyFieldProblems(spec),
    ...ownedNamespaceProblems(spec),
    ...derivedNameProblems(spec),
  ];
}
