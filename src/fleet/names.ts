// Names of generated objects, in one place: ZTP's names by default, derived from the
// PolicyGenerator-style prefix (spec.policyName, default "group-ibu"), and the name budget that
// keeps every name TALM and the PlacementRule controller derive from ours within 63 characters.
import { createHash } from "node:crypto";
import type { StageStep } from "./model.js";
export interface PolicyNames {
  readonly oadpCm: string;
  readonly prep: string;
  readonly upgrade: string;
  readonly finalize: string;
  readonly rollback: string;
  readonly extraManifests: string;
}

export function policyNames(prefix: string): PolicyNames {
  return {
    oadpCm: `${prefix}-oadp-cm-policy`,
    prep: `${prefix}-prep-stage-policy`,
    upgrade: `${prefix}-upgrade-stage-policy`,
    finalize: `${prefix}-finalize-stage-policy`,
    rollback: `${prefix}-rollback-stage-policy`,
    extraManifests: `${prefix}-extra-manifests-policy`,
  };
}

/** "4.18.1" → "4-18-1": a seed version as part of an object name. */
export function versionSlug(version: string): string {
  return version
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
}

/** Kubernetes' limit for a label value, which TALM and OCM fill with names derived from ours. */
export const LABEL_VALUE_MAX = 63;

/**
 * What TALM adds around a CGU's name when it targets a batch: release-4.22 names the batch's
 * PlacementRule (and PlacementBinding) `<cgu>-<policy>-placement-<5 random>`
 * (controllers/policy.go ensureBatchPlacementRule, utils.NewSafeResourceName), and the
 * PlacementRule controller writes that name into the PlacementDecision label
 * `cluster.open-cluster-management.io/placementrule`, a label value of at most 63.
 */
export const TALM_BATCH_NAME_OVERHEAD = "-".length + "-placement".length + "-".length + 5;

/** The managed policies of a stage step's CGU, in TALM's order (oadp-cm before prep, ZTP's). */
export function cguPolicies(step: StageStep, names: PolicyNames): string[] {
  switch (step) {
    case "prep":
      return [names.oadpCm, names.prep];
    case "upgrade":
      return [names.upgrade];
    case "finalize":
    case "abort":
      return [names.finalize];
    case "rollback":
      return [names.rollback];
  }
}

/** The longest CGU name whose TALM-derived batch names still fit a label value. */
export function cguNameBudget(policies: readonly string[]): number {
  const longest = Math.max(0, ...policies.map(p => p.length));
  return Math.min(LABEL_VALUE_MAX, LABEL_VALUE_MAX - TALM_BATCH_NAME_OVERHEAD - longest);
}

/**
 * A group's ClusterGroupUpgrade for one stage step: `ibu-<group>-<step>-<version>` (e.g.
 * ibu-canary-prep-4-18-1) when that fits the budget TALM leaves (cguNameBudget of the step's
 * policies), else `<group>-<step>-<version>`, else a stable shortening
 * `<group, cut>-<short step>-<4-character hash of the full name>` (group and stage are also in
 * the CGU's labels).
 * Throws when not even `<step>-<hash>` fits, naming the policy prefix to shorten.
 */
export function cguName(
  group: string,
  step: StageStep,
  version: string,
  names: PolicyNames,
): string {
  const budget = cguNameBudget(cguPolicies(step, names));
  const slug = versionSlug(version);
  return fitName(
    [`ibu-${group}-${step}-${slug}`, `${group}-${step}-${slug}`],
    { head: group, tail: SHORT_STEP[step] },
    budget,
    `the ${step} ClusterGroupUpgrade of group ${group}: TALM names its batch PlacementRules ` +
      `<cgu>-<policy>-placement-<5> and they must fit ${LABEL_VALUE_MAX} characters; ` +
      `shorten spec.policyName (now "${names.prep.replace(/-prep-stage-policy$/, "")}")`,
  );
}

/** Step words in shortened CGU names (`canary-upg-1a2b`), so a group name still shows. */
const SHORT_STEP: Readonly<Record<StageStep, string>> = {
  prep: "prep",
  upgrade: "upg",
  finalize: "fin",
  rollback: "rbk",
  abort: "abt",
};

/**
 * The longest IBGU name for which every CGU TALM makes from it, `<ibgu>-<actions>-<index>`
 * (controllers/imagebasedgroupupgrade.go getCGUNameForPlanItem; the CGU's name is a label value
 * on what TALM creates), fits 63 whatever plan is appended later: the longest allowed plan item
 * is prep-upgrade-finalizeupgrade (28 characters) and an index is one digit (a plan has ≤ 6 items).
 */
export const IBGU_NAME_BUDGET = LABEL_VALUE_MAX - "-prep-upgrade-finalizeupgrade-0".length;

/**
 * A group's ImageBasedGroupUpgrade; `kind` separates the abort and rollback IBGUs:
 * `ibu-<group>[-<kind>]-<version>`, shortened like cguName to fit IBGU_NAME_BUDGET.
 */
export function ibguName(group: string, version: string, kind?: "abort" | "rollback"): string {
  const slug = versionSlug(version);
  const mid = kind ? `-${kind}` : "";
  return fitName(
    [`ibu-${group}${mid}-${slug}`, `${group}${mid}-${slug}`],
    { head: group, tail: kind ?? "ibgu" },
    IBGU_NAME_BUDGET,
    `the ImageBasedGroupUpgrade of group ${group}`,
  );
}

/**
 * The first candidate of at most `budget` characters; else `<head, cut>-<tail>-<hash>` (the
 * head left out when fewer than 3 of its characters would remain), where hash is 4 base-36
 * characters of the SHA-256 of the first candidate, so the shortening is stable and distinct.
 */
export function fitName(
  candidates: readonly string[],
  short: { head: string; tail: string },
  budget: number,
  what = "a generated name",
): string {
  const fit = candidates.find(c => c.length <= budget);
  if (fit) return fit;
  const hash = BigInt(
    `0x${createHash("sha256")
      .update(candidates[0] ?? "")
      .digest("hex")
      .slice(0, 12)}`,
  )
    .toString(36)
    .padStart(4, "0")
    .slice(-4);
  const tail = `${short.tail}-${hash}`;
  if (tail.length > budget)
    throw new Error(`${what}: no name fits ${budget} characters (${tail} needs ${tail.length})`);
  const room = Math.max(0, budget - tail.length - 1);
  const head = short.head.slice(0, room).replace(/[-.]+$/, "");
  return head.length >= 3 ? `${head}-${tail}` : tail;
}
