// LCA's policy manifests: site content meant for the target release travels inside the cluster's
// ACM policies (ZTP's inform policies, enforced per batch by TALM), with each such object
// labelled `lca.openshift.io/target-ocp-version`. It must not be applied on the seed's release,
// so before the pivot LCA takes the objects labelled for the target version out of the
// replicated policies on the spoke, writes them into the new stateroot one folder per policy
// (in ztp-deploy-wave order), and applies them after the pivot, before the extra manifests.
import type { KubeApi, KubeObject } from "../../shared/kube.js";
import { listIfServed } from "../health.js";
import { goAtoi } from "../../../api/lca.js";

export const TARGET_VERSION_LABEL = "lca.openshift.io/target-ocp-version";
export const MANIFEST_COUNT_ANNOTATION = "lca.openshift.io/target-ocp-version-manifest-count";
export const ZTP_DEPLOY_WAVE = "ran.openshift.io/ztp-deploy-wave";
const POLICIES = "/apis/policy.open-cluster-management.io/v1/policies";

/**
 * The label values that select a target version's objects, as LCA matches them: X.Y.Z, X.Y,
 * and the full version when it is neither (4.18.0-rc.1). Throws on a version that is not semver.
 */
export function targetVersions(version: string): string[] {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:[-+].*)?$/.exec(version.trim());
  if (!m)
    throw new Error(`failed to parse target ocp version ${version}: Invalid Semantic Version`);
  const [major, minor = "0", patch = "0"] = [m[1]!, m[2], m[3]];
  const out = [`${+major}.${+minor}.${+patch}`, `${+major}.${+minor}`];
  if (!out.includes(version)) out.push(version);
  return out;
}

interface Policy {
  metadata: { name: string; annotations?: Record<string, string> };
  spec?: {
    remediationAction?: string;
    disabled?: boolean;
    "policy-templates"?: Array<{ objectDefinition?: unknown }>;
  };
}

interface ConfigurationPolicy {
  spec?: {
    "object-templates"?: Array<{ complianceType?: string; objectDefinition?: unknown }>;
  };
}

/**
 * The policies LCA takes manifests from, in order: not enforce (those ACM applies itself),
 * with a ztp-deploy-wave annotation, named as a replicated policy (`<namespace>.<name>`);
 * sorted by wave, then by name. The wave is what Go's strconv.Atoi returns, as LCA's
 * GetPolicies takes it (internal/extramanifest/policy.go): a wave Atoi refuses (`10abc`,
 * ` 10`) is only logged there and counts as 0; one out of range as the int64 bound; `+10` is 10.
 */
export function managedPolicies(policies: readonly Policy[]): Policy[] {
  const wave = (p: Policy): bigint => goAtoi(p.metadata.annotations?.[ZTP_DEPLOY_WAVE] ?? "").value;
  const byWave = (a: Policy, b: Policy): number => {
    const [wa, wb] = [wave(a), wave(b)];
    if (wa !== wb) return wa < wb ? -1 : 1;
    return a.metadata.name < b.metadata.name ? -1 : 1;
  };
  return policies
    .filter(p => (p.spec?.remediationAction ?? "").toLowerCase() !== "enforce")
    .filter(p => p.metadata.annotations?.[ZTP_DEPLOY_WAVE] !== undefined)
    .filter(p => p.metadata.name.includes("."))
    .sort(byWave);
}

/**
 * The target version's objects of one policy: every mustHave object template of its
 * configuration policies whose object carries the target-version label with one of `versions`.
 * A disabled policy has none. The object's status is dropped (it cannot be applied).
 */
export function policyObjects(policy: Policy, versions: readonly string[]): KubeObject[] {
  if (policy.spec?.disabled) return [];
  const out: KubeObject[] = [];
  for (const t of policy.spec?.["policy-templates"] ?? []) {
    const def = t.objectDefinition as ConfigurationPolicy | undefined;
    for (const ot of def?.spec?.["object-templates"] ?? []) {
      if ((ot.complianceType ?? "").toLowerCase() !== "musthave") continue;
      const obj = ot.objectDefinition as KubeObject | undefined;
      if (!obj || !labelledFor(obj, versions)) continue;
      const copy = structuredClone(obj);
      delete copy.status;
      out.push(copy);
    }
  }
  return out;
}

function labelledFor(obj: KubeObject, versions: readonly string[]): boolean {
  const label = (obj.metadata?.labels as Record<string, unknown> | undefined)?.[
    TARGET_VERSION_LABEL
  ];
  return typeof label === "string" && versions.includes(label);
}

/** A count annotation that does not match: LCA's message, which fails the stage. */
export class ManifestCountError extends Error {}

/**
 * The target version's objects from the cluster's policies, one group per policy in wave order
 * (none where the Policy kind is not served: a cluster ACM does not manage). With the count
 * annotation, the number of objects must equal it.
 */
export async function policyManifests(
  api: KubeApi,
  version: string,
  expectedCount: string | undefined,
): Promise<KubeObject[][]> {
  const versions = targetVersions(version);
  // A cluster that does not serve Policy is one ACM does not manage: no policy manifests.
  const policies = (await listIfServed<Policy>(api, POLICIES)) ?? [];
  const groups = managedPolicies(policies)
    .map(p => policyObjects(p, versions))
    .filter(g => g.length);
  const count = groups.reduce((n, g) => n + g.length, 0);
  if (expectedCount !== undefined && expectedCount !== String(count))
    throw new ManifestCountError(
      `The labeled manifests count found in policies ${count} does not match the expected manifests count ${expectedCount}`,
    );
  return groups;
}
