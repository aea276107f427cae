// Which rollout group and batch each cluster is in, from TALM's objects on the hub: a
// ClusterGroupUpgrade (ran.openshift.io/v1alpha1) selects clusters by `spec.clusters` and by
// `spec.clusterLabelSelectors` (ORed; the deprecated `clusterSelector` strings too) matched
// against ManagedCluster labels, and batches them in `status.remediationPlan`. An
// ImageBasedGroupUpgrade (lcm.openshift.io/v1alpha1) selects by `clusterLabelSelectors`; the
// CGUs TALM makes for it carry the label `ibgu: <name>`. Our generator labels its CGUs and
// IBGUs `ibu-gitops.dev/group: <group>`.

export const GROUP_LABEL = "ibu-gitops.dev/group";
/**
 * The seed version a generated CGU upgrades to (a CGU names only policies). The hub needs it once
 * the finalize policy's mustonlyhave has dropped `seedImageRef` from the IBU: without it a
 * finalized cluster has no target and never counts as done. An annotation, as a version such as
 * `4.18.1+build.7` is not a label value.
 */
export const TARGET_VERSION_ANNOTATION = "ibu-gitops.dev/target-version";
export const IBGU_LABEL = "ibgu";

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

/** Kubernetes label-selector semantics: every term must hold; an empty selector matches all. */
export function matchesSelector(
  labels: Readonly<Record<string, string>>,
  sel: LabelSelector,
): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const value = labels[e.key];
    switch (e.operator) {
      case "In":
        if (!has || !(e.values ?? []).includes(value!)) return false;
        break;
      case "NotIn":
        if (has && (e.values ?? []).includes(value!)) return false;
        break;
      case "Exists":
        if (!has) return false;
        break;
      case "DoesNotExist":
        if (has) return false;
        break;
      default:
        return false; // an operator we do not know selects nothing, as the apiserver refuses it
    }
  }
  return true;
}

/** The deprecated CGU `clusterSelector` entry: "key=value" or "key"; a malformed one selects nothing. */
export function matchesLegacySelector(
  labels: Readonly<Record<string, string>>,
  entry: string,
): boolean {
  const parts = entry.split("=");
  if (parts.length > 2 || !parts[0]) return false;
  const [k, v] = parts as [string, string | undefined];
  return v === undefined ? k in labels : labels[k] === v;
}

/**
 * Parses a label-selector string as kubectl takes it (`a=b,c!=d,e,!f,g in (x,y),h notin (z)`),
 * for the controller's optional ManagedCluster scope. Throws on a malformed selector.
 */
export function parseSelector(text: string): LabelSelector {
  const matchLabels: Record<string, string> = {};
  const matchExpressions: LabelSelectorRequirement[] = [];
  const terms: string[] = [];
  let depth = 0;
  let term = "";
  for (const ch of text) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      terms.push(term);
      term = "";
    } else term += ch;
  }
  terms.push(term);
  for (const raw of terms) {
    const t = raw.trim();
    if (!t) continue;
    let m: RegExpExecArray | null;
    if ((m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(t))) {
      const values = m[3]!.split(",").map(s => s.trim());
      matchExpressions.push({ key: m[1]!, operator: m[2] === "in" ? "In" : "NotIn", values });
    } else if ((m = /^([\w./-]+)\s*!=\s*([\w.-]*)$/.exec(t))) {
      matchExpressions.push({ key: m[1]!, operator: "NotIn", values: [m[2]!] });
    } else if ((m = /^([\w./-]+)\s*==?\s*([\w.-]*)$/.exec(t))) {
      matchLabels[m[1]!] = m[2]!;
    } else if ((m = /^!([\w./-]+)$/.exec(t))) {
      matchExpressions.push({ key: m[1]!, operator: "DoesNotExist" });
    } else if ((m = /^([\w./-]+)$/.exec(t))) {
      matchExpressions.push({ key: m[1]!, operator: "Exists" });
    } else {
      throw new Error(`label selector ${JSON.stringify(text)}: cannot read ${JSON.stringify(t)}`);
    }
  }
  return { matchLabels, matchExpressions };
}

/** A CGU or IBGU reduced to what group matching needs. */
export interface UpgradeObject {
  readonly kind: "ClusterGroupUpgrade" | "ImageBasedGroupUpgrade";
  readonly namespace: string;
  readonly name: string;
  /** From the `ibu-gitops.dev/group` label; for an IBGU's CGU, resolved through its IBGU. */
  readonly group?: string;
  /** For a CGU TALM made for an IBGU: the IBGU's name (label `ibgu`). */
  readonly ibgu?: string;
  readonly clusters: readonly string[];
  readonly selectors: readonly LabelSelector[];
  readonly legacySelectors: readonly string[];
  /** cluster → 1-based batch index in status.remediationPlan */
  readonly batches: ReadonlyMap<string, number>;
  readonly currentBatch?: number;
  readonly progressing: boolean;
  readonly created: string;
  /**
   * The clusters' target: an IBGU's `spec.ibuSpec.seedImageRef.version`, or a generated CGU's
   * TARGET_VERSION_ANNOTATION.
   */
  readonly targetVersion?: string;
}

interface RawUpgrade {
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
  };
  spec?: {
    clusters?: string[];
    clusterLabelSelectors?: LabelSelector[];
    clusterSelector?: string[];
    ibuSpec?: { seedImageRef?: { version?: string } };
  };
  status?: {
    remediationPlan?: string[][];
    status?: { currentBatch?: number };
    conditions?: Array<{ type: string; status: string }>;
  };
}

/** Reads a CGU or IBGU object; undefined when it is neither ours nor made for an IBGU of ours. */
export function toUpgradeObject(raw: unknown): UpgradeObject | undefined {
  const o = raw as RawUpgrade;
  const kind = o.kind;
  if (kind !== "ClusterGroupUpgrade" && kind !== "ImageBasedGroupUpgrade") return undefined;
  const labels = o.metadata?.labels ?? {};
  const group = labels[GROUP_LABEL];
  const ibgu = kind === "ClusterGroupUpgrade" ? labels[IBGU_LABEL] : undefined;
  if (!group && !ibgu) return undefined;
  const targetVersion =
    o.spec?.ibuSpec?.seedImageRef?.version ?? o.metadata?.annotations?.[TARGET_VERSION_ANNOTATION];
  const batches = new Map<string, number>();
  (o.status?.remediationPlan ?? []).forEach((batch, i) => {
    for (const c of batch ?? []) if (!batches.has(c)) batches.set(c, i + 1);
  });
  return {
    kind,
    namespace: o.metadata?.namespace ?? "",
    name: o.metadata?.name ?? "",
    ...(group ? { group } : {}),
    ...(ibgu ? { ibgu } : {}),
    clusters: o.spec?.clusters ?? [],
    selectors: o.spec?.clusterLabelSelectors ?? [],
    legacySelectors: o.spec?.clusterSelector ?? [],
    batches,
    ...(o.status?.status?.currentBatch !== undefined
      ? { currentBatch: o.status.status.currentBatch }
      : {}),
    progressing: (o.status?.conditions ?? []).some(
      c => c.type === "Progressing" && c.status === "True",
    ),
    created: o.metadata?.creationTimestamp ?? "",
    ...(targetVersion ? { targetVersion } : {}),
  };
}

export function selectsCluster(
  u: UpgradeObject,
  name: string,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  if (u.clusters.includes(name) || u.batches.has(name)) return true;
  if (!labels) return false;
  return (
    u.selectors.some(s => matchesSelector(labels, s)) ||
    u.legacySelectors.some(s => matchesLegacySelector(labels, s))
  );
}

export interface GroupAssignment {
  readonly group: string;
  /** `<namespace>/<name>` of the CGU or IBGU the assignment comes from. */
  readonly upgrade: string;
  readonly kind: UpgradeObject["kind"];
  readonly batch?: number;
  readonly currentBatch?: number;
  /** The seed version the upgrade object (or, for an IBGU's CGU, its IBGU) names. */
  readonly targetVersion?: string;
}

/**
 * The group of a cluster: among the upgrade objects that select it, the one in progress first,
 * then one that has it in its remediation plan, then the newest. Undefined when none does.
 */
export function assignGroup(
  name: string,
  labels: Readonly<Record<string, string>> | undefined,
  upgrades: Iterable<UpgradeObject>,
  ibguGroup: (namespace: string, ibgu: string) => UpgradeObject | undefined,
): GroupAssignment | undefined {
  let best: { u: UpgradeObject; group: string; rank: string; version?: string } | undefined;
  for (const u of upgrades) {
    const parent = u.ibgu ? ibguGroup(u.namespace, u.ibgu) : undefined;
    const group = u.group ?? parent?.group;
    if (!group || !selectsCluster(u, name, labels)) continue;
    const rank = `${u.progressing ? 1 : 0}${u.batches.has(name) ? 1 : 0}${u.created}\u0000${u.namespace}/${u.name}`;
    const version = u.targetVersion ?? parent?.targetVersion;
    if (!best || rank > best.rank) best = { u, group, rank, version };
  }
  if (!best) return undefined;
  const batch = best.u.batches.get(name);
  return {
    group: best.group,
    upgrade: `${best.u.namespace}/${best.u.name}`,
    kind: best.u.kind,
    ...(batch !== undefined ? { batch } : {}),
    ...(best.u.currentBatch !== undefined ? { currentBatch: best.u.currentBatch } : {}),
    ...(best.version ? { targetVersion: best.version } : {}),
  };
}
