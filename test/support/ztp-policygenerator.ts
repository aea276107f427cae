// Writes the PolicyGenerator input a ZTP user would write by hand for a fleet (ZTP's
// acm-pg-ran-ibu-upgrade.yaml recipe: source CRs plus patches), so the real PolicyGenerator
// can be run as a peer on the same fleet: for the comparison test and the benchmarks, as a
// process or, as ZTP's policies app runs it, as a kustomize exec plugin.
import { chmodSync, copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import type { Fleet } from "../../src/fleet/model.js";
import { policyNames } from "../../src/fleet/names.js";
import { oadpData } from "../../src/render/oadp.js";
import { TemplateSet } from "../../src/render/templates.js";

const IBU_SOURCE = {
  apiVersion: "lca.openshift.io/v1",
  kind: "ImageBasedUpgrade",
  metadata: { name: "upgrade" },
  spec: { stage: "Idle" },
};
const CM_SOURCE = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "generic", namespace: "generic" },
  data: {},
};

const condition = (type: string, reason: string, message?: string): object => ({
  status: { conditions: [{ type, status: "True", reason, ...(message ? { message } : {}) }] },
});

/** Writes `<dir>/pg.yaml` and its source CRs; returns the generator file's path. */
export function writeZtpPolicyGenerator(fleet: Fleet, dir: string): string {
  const spec = fleet.spec;
  const n = policyNames(spec.policyName);
  mkdirSync(join(dir, "source-crs"), { recursive: true });
  writeFileSync(join(dir, "source-crs", "ImageBasedUpgrade.yaml"), stringify(IBU_SOURCE));
  writeFileSync(join(dir, "source-crs", "ConfigMapGeneric.yaml"), stringify(CM_SOURCE));
  const ibu = "source-crs/ImageBasedUpgrade.yaml";
  const cm = "source-crs/ConfigMapGeneric.yaml";
  const extra = spec.catalogSources.length
    ? [{ name: "ibu-gitops-extra-manifests", namespace: "openshift-lifecycle-agent" }]
    : [];
  const prepSpec = {
    stage: "Prep",
    seedImageRef: spec.seedImage,
    oadpContent: [spec.oadp.configMap],
    ...(spec.extraManifests.length || extra.length
      ? { extraManifests: [...spec.extraManifests, ...extra] }
      : {}),
    autoRollbackOnFailure: {
      initMonitorTimeoutSeconds: spec.autoRollback.initMonitorTimeoutSeconds,
    },
  };
  const generator = {
    apiVersion: "policy.open-cluster-management.io/v1",
    kind: "PolicyGenerator",
    metadata: { name: spec.policyName },
    placementBindingDefaults: { name: `${spec.policyName}-placement-binding` },
    policyDefaults: {
      namespace: spec.hub.policyNamespace,
      placement: { labelSelector: spec.clusterSelector },
      remediationAction: "inform",
      severity: "low",
      namespaceSelector: { exclude: ["kube-*"], include: ["*"] },
      evaluationInterval: { compliant: "10s", noncompliant: "10s" },
      copyPolicyMetadata: false,
    },
    policies: [
      {
        name: n.oadpCm,
        manifests: [
          {
            path: cm,
            complianceType: "mustonlyhave",
            patches: [{ metadata: spec.oadp.configMap }],
          },
          ...extra.map(e => ({
            path: cm,
            complianceType: "mustonlyhave",
            patches: [{ metadata: e }],
          })),
        ],
      },
      // ZTP pins the Prep condition message; see docs/decisions.md for why we do not.
      {
        name: n.prep,
        manifests: [
          {
            path: ibu,
            patches: [
              {
                spec: prepSpec,
                ...condition("PrepCompleted", "Completed", "Prep stage completed successfully"),
              },
            ],
          },
        ],
      },
      {
        name: n.upgrade,
        manifests: [
          {
            path: ibu,
            patches: [
              { spec: { stage: "Upgrade" }, ...condition("UpgradeCompleted", "Completed") },
            ],
          },
        ],
      },
      {
        name: n.finalize,
        manifests: [
          { path: ibu, complianceType: "mustonlyhave", patches: [{ spec: { stage: "Idle" } }] },
          { path: ibu, patches: [{ spec: { stage: "Idle" }, ...condition("Idle", "Idle") }] },
        ],
      },
      {
        name: n.rollback,
        manifests: [
          {
            path: ibu,
            patches: [
              { spec: { stage: "Rollback" }, ...condition("RollbackCompleted", "Completed") },
            ],
          },
        ],
      },
    ],
  };
  const file = join(dir, "pg.yaml");
  writeFileSync(file, stringify(generator));
  return file;
}

/**
 * ZTP's kustomization patch: the oadp-cm policy's ConfigMap data becomes a copyConfigMapData
 * hub template (PolicyGenerator cannot patch a map into a string itself).
 */
export function applyZtpOadpPatch(policy: Record<string, any>, fleet: Fleet): void {
  const templates = policy.spec["policy-templates"][0].objectDefinition.spec[
    "object-templates"
  ] as Array<{ objectDefinition: any }>;
  for (const t of templates) {
    t.objectDefinition.data = `{{hub copyConfigMapData "${fleet.spec.hub.policyNamespace}" "${hubName(t.objectDefinition.metadata.name, fleet)}" hub}}`;
  }
}

function hubName(spokeName: string, fleet: Fleet): string {
  return spokeName === fleet.spec.oadp.configMap.name ? fleet.spec.oadp.configMap.name : spokeName;
}

/**
 * Writes ZTP's policies folder for a fleet as its Argo CD app renders it (`kustomization.yaml`
 * of telco-reference's image-based-upgrades example): the PolicyGenerator under `generators:`,
 * `ns.yaml` for the policy namespace, the hub OADP ConfigMap from a `configMapGenerator` over
 * the same Backup/Restore files our synth puts in it, and ZTP's JSON patch that turns the
 * oadp-cm policy's data into a `copyConfigMapData` hub template. Returns `dir`.
 * @throws Error for a fleet with catalogSources (its extra-manifests ConfigMap is not written)
 */
export function writeZtpKustomization(fleet: Fleet, dir: string): string {
  const spec = fleet.spec;
  const ns = spec.hub.policyNamespace;
  if (spec.catalogSources.length)
    throw new Error("writeZtpKustomization: fleets with catalogSources are not supported");
  writeZtpPolicyGenerator(fleet, dir);
  const data = oadpData(fleet, new TemplateSet());
  mkdirSync(join(dir, "source-crs", "ibu"), { recursive: true });
  for (const [key, text] of Object.entries(data))
    writeFileSync(join(dir, "source-crs", "ibu", key), text);
  writeFileSync(
    join(dir, "ns.yaml"),
    stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }),
  );
  const kustomization = {
    apiVersion: "kustomize.config.k8s.io/v1beta1",
    kind: "Kustomization",
    generators: ["pg.yaml"],
    resources: ["ns.yaml"],
    patches: [
      {
        target: {
          group: "policy.open-cluster-management.io",
          version: "v1",
          kind: "Policy",
          name: policyNames(spec.policyName).oadpCm,
        },
        patch: stringify([
          {
            op: "replace",
            path: "/spec/policy-templates/0/objectDefinition/spec/object-templates/0/objectDefinition/data",
            value: `{{hub copyConfigMapData "${ns}" "${spec.oadp.configMap.name}" hub}}`,
          },
        ]),
      },
    ],
    configMapGenerator: [
      {
        name: spec.oadp.configMap.name,
        namespace: ns,
        files: Object.keys(data).map(k => `source-crs/ibu/${k}`),
      },
    ],
    generatorOptions: { disableNameSuffixHash: true },
  };
  writeFileSync(join(dir, "kustomization.yaml"), stringify(kustomization));
  return dir;
}

/**
 * Installs PolicyGenerator as kustomize finds a legacy exec plugin:
 * `<pluginHome>/policy.open-cluster-management.io/v1/policygenerator/PolicyGenerator` (the path
 * the plugin's README and ZTP's Argo CD patch use; Argo CD sets KUSTOMIZE_PLUGIN_HOME to it).
 * Returns the environment for `kustomize build --enable-alpha-plugins`.
 */
export function installPolicyGeneratorPlugin(
  binary: string,
  pluginHome: string,
): NodeJS.ProcessEnv {
  const dir = join(pluginHome, "policy.open-cluster-management.io", "v1", "policygenerator");
  mkdirSync(dir, { recursive: true });
  copyFileSync(binary, join(dir, "PolicyGenerator"));
  chmodSync(join(dir, "PolicyGenerator"), 0o755);
  return { ...process.env, KUSTOMIZE_PLUGIN_HOME: pluginHome };
}
