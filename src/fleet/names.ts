// Names of generated objects, in one place: ZTP's names by default, derived from the
// PolicyGenerator-style prefix (spec.policyName, default "group-ibu"), and the name budget that
// keeps every name TALM and the PlacementRule controller derive from ours within 63 characters;
// and the rules Kubernetes puts on names and labels, checked on the fleet and on every object.
import { createHash } from "node:crypto";
import { show } from "./errors.js";
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

/**
 * The managed policies of a stage step's CGU, in TALM's order (oadp-cm before prep, ZTP's).
 * `oadpCm` false: the fleet has no oadp-cm policy (no OADP content, no extra manifests).
 */
export function cguPolicies(step: StageStep, names: PolicyNames, oadpCm = true): string[] {
  switch (step) {
    case "prep":
      return oadpCm ? [names.oadpCm, names.prep] : [names.prep];
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

/** The Argo CD Application that syncs a fleet's output folder. */
export function applicationName(fleetName: string): string {
  return `ibu-gitops-${fleetName}`;
}

// ---- Kubernetes' rules (k8s.io/apimachinery/pkg/util/validation) ----

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** RFC 1123 label (namespaces, cluster and group names): at most 63 lowercase letters, digits, '-'. */
export function dnsLabelProblem(v: string): string | undefined {
  return v.length <= 63 && DNS_LABEL.test(v)
    ? undefined
    : `${show(v)} is not a valid RFC 1123 label (at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit)`;
}

/** RFC 1123 subdomain (most object names): at most 253 characters. */
export function dnsSubdomainProblem(v: string): string | undefined {
  return v.length <= 253 && DNS_SUBDOMAIN.test(v)
    ? undefined
    : `${show(v)} is not a valid RFC 1123 name (lowercase letters, digits, '-' and '.', at most 253 characters)`;
}

/** A label or annotation key: an optional DNS-subdomain prefix and '/', then a qualified name. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && dnsSubdomainProblem(prefix) !== undefined)
    return `label key ${show(key)} has a prefix that is not a DNS subdomain`;
  if (name.length > 63 || !QUALIFIED_NAME.test(name))
    return `${show(key)} is not a valid label key (at most 63 letters, digits, '-', '_' and '.', optionally after a DNS-subdomain prefix and '/')`;
  return undefined;
}

/** A label value: empty, or at most 63 letters, digits, '-', '_' and '.', alphanumeric at both ends. */
export function labelValueProblem(value: string): string | undefined {
  return value === "" || (value.length <= 63 && QUALIFIED_NAME.test(value))
    ? undefined
    : `${show(value)} is not a valid label value (at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`;
}

/**
 * The longest name each kind accepts: 253 (a DNS subdomain) unless listed. Namespaces are DNS
 * labels; TALM's ImageBasedGroupUpgrade CRD says `size(self.metadata.name) < 230`.
 */
const NAME_LIMITS: Readonly<Record<string, number>> = {
  Namespace: 63,
  ImageBasedGroupUpgrade: 229,
};

/** Kinds whose names are DNS labels rather than subdomains. */
const LABEL_NAMED = new Set(["Namespace", "Service"]);

/**
 * Largest object we write, in bytes of JSON: etcd's default request limit is 1.5 MiB, and the
 * apiserver adds managedFields and Argo CD its tracking annotation on top of what we write.
 */
export const MAX_OBJECT_BYTES = 1_000_000;

export interface ObjectLike {
  readonly kind?: unknown;
  readonly metadata?: {
    readonly name?: unknown;
    readonly namespace?: unknown;
    readonly labels?: unknown;
    readonly annotations?: unknown;
  };
}

/**
 * Why the apiserver would refuse this object's metadata (name and namespace syntax and length
 * for its kind, label keys and values, annotation keys) or its size; an empty list if it would
 * not. Used by synth on every object before anything is written.
 */
export function objectProblems(obj: ObjectLike): string[] {
  const kind = typeof obj.kind === "string" ? obj.kind : "object";
  const md = obj.metadata ?? {};
  const id = `${kind} ${typeof md.name === "string" ? show(md.name) : "?"}`;
  const out = [...nameProblems(kind, md.name)];
  if (md.namespace !== undefined) {
    const ns = typeof md.namespace === "string" ? dnsLabelProblem(md.namespace) : "not a string";
    if (ns) out.push(`${id} namespace: ${ns}`);
  }
  for (const [k, v] of Object.entries(asRecord(md.labels))) {
    const p = labelKeyProblem(k) ?? (typeof v === "string" ? labelValueProblem(v) : "not a string");
    if (p) out.push(`${id} label ${show(k)}: ${p}`);
  }
  for (const [k, v] of Object.entries(asRecord(md.annotations))) {
    const p = labelKeyProblem(k) ?? (typeof v === "string" ? undefined : "not a string");
    if (p) out.push(`${id} annotation ${show(k)}: ${p}`);
  }
  const size = JSON.stringify(obj).length;
  if (size > MAX_OBJECT_BYTES)
    out.push(`${id} is ${size} bytes; at most ${MAX_OBJECT_BYTES} are written`);
  return out;
}

function nameProblems(kind: string, name: unknown): string[] {
  if (typeof name !== "string") return [`${kind} has no metadata.name`];
  const limit = NAME_LIMITS[kind] ?? 253;
  const syntax = LABEL_NAMED.has(kind) ? dnsLabelProblem(name) : dnsSubdomainProblem(name);
  if (syntax) return [`${kind} name: ${syntax}`];
  if (name.length > limit)
    return [`${kind} name ${show(name)} is ${name.length} characters; at most ${limit}`];
  return [];
}

function asRecord(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : {};
}
