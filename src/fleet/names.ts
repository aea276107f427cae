// Names of generated objects, in one place: ZTP's names by default, derived from the
// PolicyGenerator-style prefix (spec.policyName, default "group-ibu").
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

/** A group's ClusterGroupUpgrade for one stage step, e.g. ibu-canary-prep-4-18-1. */
export function cguName(group: string, step: string, version: string): string {
  return `ibu-${group}-${step}-${versionSlug(version)}`;
}

/** A group's ImageBasedGroupUpgrade; `kind` separates the abort and rollback IBGUs. */
export function ibguName(group: string, version: string, kind?: "abort" | "rollback"): string {
  return `ibu-${group}${kind ? `-${kind}` : ""}-${versionSlug(version)}`;
}
