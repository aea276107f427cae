// CustomResourceDefinitions for test clusters. Third-party CRDs are read from their upstream Go
// modules, pinned by version and checksum and fetched through the Go module proxy; the
// project's own CRDs come from addon/crds/. Nothing upstream is copied into this repository.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { packageRoot } from "../package-root.js";
import { downloadModules } from "./go.js";

// From the package root, so the compiled CLI in dist/ finds addon/crds/ too.
const REPO = packageRoot();

/** Where a CRD is installed: on the hub, on spokes, or on both. */
export type CrdSet = "hub" | "spoke";

export interface PinnedModule {
  readonly path: string;
  readonly version: string;
  /** go.sum `h1:` hash of the module zip, checked after download. */
  readonly sum: string;
  /** The public checksum database does not list this version; the pinned sum is the check. */
  readonly notInSumDb?: boolean;
  /** Where each CRD goes; no set means only the tests that need it install it (by a filter). */
  readonly crds: ReadonlyArray<{ readonly file: string; readonly sets: readonly CrdSet[] }>;
}

const OCM_API = "open-cluster-management.io/api";

/** Every third-party CRD the tests need, by module. */
export const THIRD_PARTY_MODULES: readonly PinnedModule[] = [
  {
    // The API version OCM's controllers of the hub stack (open-cluster-management.io/ocm v1.2.1) use.
    path: OCM_API,
    version: "v1.2.0",
    sum: "h1:+yeQgJiErrur5S4s205UM37EcZ2XbC9pFSm0xgV5/hU=",
    crds: [
      // What OCM's placement controller reads besides Placements (hub stack).
      {
        file: "cluster/v1alpha1/0000_02_clusters.open-cluster-management.io_clusterclaims.crd.yaml",
        sets: ["hub"],
      },
      {
        file: "cluster/v1alpha1/0000_05_clusters.open-cluster-management.io_addonplacementscores.crd.yaml",
        sets: ["hub"],
      },
      // The work agent records what it applied on the spoke.
      {
        file: "work/v1/0000_01_work.open-cluster-management.io_appliedmanifestworks.crd.yaml",
        sets: ["spoke"],
      },
      {
        file: "cluster/v1/0000_00_clusters.open-cluster-management.io_managedclusters.crd.yaml",
        sets: ["hub"],
      },
      {
        file: "cluster/v1beta2/0000_00_clusters.open-cluster-management.io_managedclustersets.crd.yaml",
        sets: ["hub"],
      },
      {
        file: "cluster/v1beta2/0000_01_clusters.open-cluster-management.io_managedclustersetbindings.crd.yaml",
        sets: ["hub"],
      },
      {
        file: "cluster/v1beta1/0000_02_clusters.open-cluster-management.io_placements.crd.yaml",
        sets: ["hub"],
      },
      {
        file: "cluster/v1beta1/0000_03_clusters.open-cluster-management.io_placementdecisions.crd.yaml",
        sets: ["hub"],
      },
      {
        file: "addon/v1alpha1/0000_00_addon.open-cluster-management.io_clustermanagementaddons.crd.yaml",
        sets: ["hub"],
      },
      {
        file: "addon/v1alpha1/0000_01_addon.open-cluster-management.io_managedclusteraddons.crd.yaml",
        sets: ["hub"],
      },
      {
        file: "addon/v1alpha1/0000_02_addon.open-cluster-management.io_addondeploymentconfigs.crd.yaml",
        sets: ["hub"],
      },
      {
        file: "addon/v1alpha1/0000_03_addon.open-cluster-management.io_addontemplates.crd.yaml",
        sets: ["hub"],
      },
      {
        file: "work/v1/0000_00_work.open-cluster-management.io_manifestworks.crd.yaml",
        sets: ["hub"],
      },
      {
        file: "work/v1alpha1/0000_00_work.open-cluster-management.io_manifestworkreplicasets.crd.yaml",
        sets: ["hub"],
      },
    ],
  },
  {
    path: "open-cluster-management.io/governance-policy-propagator",
    version: "v0.19.0",
    sum: "h1:5tVCsUvuRkc0XlUNopuGWGw9UDXDXTqA8z8TNA6721k=",
    crds: [
      {
        file: "deploy/crds/policy.open-cluster-management.io_policies.yaml",
        sets: ["hub", "spoke"],
      },
      {
        file: "deploy/crds/policy.open-cluster-management.io_placementbindings.yaml",
        sets: ["hub"],
      },
      { file: "deploy/crds/policy.open-cluster-management.io_policysets.yaml", sets: ["hub"] },
      // The propagator watches PolicyAutomations and will not start without the kind.
      {
        file: "deploy/crds/policy.open-cluster-management.io_policyautomations.yaml",
        sets: ["hub"],
      },
    ],
  },
  {
    // The PlacementRule kind TALM's release-4.22 batches target (its controller is in the hub stack).
    path: "open-cluster-management.io/multicloud-operators-subscription",
    version: "v0.16.0",
    sum: "h1:rsup8obE4AYZmhJHjZznQqFX3FUII9o200uRinmgbqg=",
    crds: [
      {
        file: "deploy/hub-common/apps.open-cluster-management.io_placementrules_crd.yaml",
        sets: ["hub"],
      },
    ],
  },
  {
    // ManagedClusterView and ManagedClusterAction, which TALM watches (the version its go.mod requires).
    path: "github.com/stolostron/cluster-lifecycle-api",
    version: "v0.0.0-20240918064238-a5e71b599118",
    sum: "h1:etBoN2TXjxiTNZ/pmvbHuKSvJWm7ml+QGWrHPTeHQ+g=",
    crds: [
      {
        file: "view/v1beta1/view.open-cluster-management.io_managedclusterviews.crd.yaml",
        sets: ["hub"],
      },
      {
        file: "action/v1beta1/action.open-cluster-management.io_managedclusteractions.crd.yaml",
        sets: ["hub"],
      },
    ],
  },
  {
    path: "open-cluster-management.io/config-policy-controller",
    version: "v0.19.0",
    sum: "h1:N0/rf3HEzVLT/Fj7evtNe2r1zPFyIW5Cn4LS7PKQpGc=",
    crds: [
      {
        file: "deploy/crds/policy.open-cluster-management.io_configurationpolicies.yaml",
        sets: ["hub", "spoke"],
      },
      // config-policy-controller watches OperatorPolicies on the spoke.
      {
        file: "deploy/crds/policy.open-cluster-management.io_operatorpolicies.yaml",
        sets: ["spoke"],
      },
    ],
  },
  {
    // TALM has no usable tags; this is the release-4.22 commit of 2026-07-07.
    path: "github.com/openshift-kni/cluster-group-upgrades-operator",
    version: "v0.0.0-20260707161822-9b9043d4494b",
    sum: "h1:hEP583hUP3JILmRBfioynXbBVRQZiEj098CE9EoU0hw=",
    notInSumDb: true,
    crds: [
      { file: "config/crd/bases/ran.openshift.io_clustergroupupgrades.yaml", sets: ["hub"] },
      { file: "config/crd/bases/lcm.openshift.io_imagebasedgroupupgrades.yaml", sets: ["hub"] },
      { file: "config/crd/bases/ran.openshift.io_precachingconfigs.yaml", sets: ["hub"] },
    ],
  },
  {
    // The Lifecycle Agent's IBU CRD: the reference our own CRD is compared with. It goes on the
    // hub (where nothing of ours serves the kind) so tests can hold LCA's behaviour next to ours.
    path: "github.com/openshift-kni/lifecycle-agent",
    version: "v0.0.0-20260707161814-ec769a366476",
    sum: "h1:Uu5pPsXpcqdBd6tH7sRl/++PNNp9YwK5QF0oZNMgK/8=",
    notInSumDb: true,
    crds: [{ file: "config/crd/bases/lca.openshift.io_imagebasedupgrades.yaml", sets: ["hub"] }],
  },
  {
    // The release the sandbox's Argo CD runs (src/sandbox/go/argocd): v3.3 and later do not
    // build from the module proxy (../shared/reference/real-hub-stack.md §4).
    path: "github.com/argoproj/argo-cd/v3",
    version: "v3.2.6",
    sum: "h1:nDCjBnHyxUf6JFuCKjuuXHS23LFj6/TjuO/APrS1ku4=",
    crds: [
      { file: "manifests/crds/application-crd.yaml", sets: ["hub"] },
      { file: "manifests/crds/appproject-crd.yaml", sets: ["hub"] },
    ],
  },
  {
    // The ServiceMonitor the addon output asks OpenShift's platform Prometheus to scrape with.
    path: "github.com/prometheus-operator/prometheus-operator",
    version: "v0.80.1",
    sum: "h1:jeqy9C8ku5coMThZh/cVrB5FwJHlV98jvnSeVnQKCQw=",
    crds: [
      {
        file: "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        sets: ["hub"],
      },
    ],
  },
  {
    path: "github.com/vmware-tanzu/velero",
    version: "v1.18.3",
    sum: "h1:9uwN5yxTWQl9PsF5ljX4xiG+7VIq3I9mxOQ0DyyZ31A=",
    crds: [
      { file: "config/crd/v1/bases/velero.io_backups.yaml", sets: ["spoke"] },
      { file: "config/crd/v1/bases/velero.io_restores.yaml", sets: ["spoke"] },
      { file: "config/crd/v1/bases/velero.io_deletebackuprequests.yaml", sets: ["spoke"] },
      // Where OADP's DataProtectionApplication points Velero (LCA's health check reads it).
      { file: "config/crd/v1/bases/velero.io_backupstoragelocations.yaml", sets: [] },
    ],
  },
  {
    // OpenShift's ClusterOperator, ClusterVersion and MachineConfigPool, which LCA's health
    // checks (and, for ClusterVersion, Prep's version check) read: the version the pinned
    // Lifecycle Agent's go.mod requires. Installed only by the tests that need them
    // (test/integration/agent-health.test.ts), not on the shared control plane.
    path: "github.com/openshift/api",
    version: "v0.0.0-20260213155647-8fe9fe363807",
    sum: "h1:coR/haF16EW8KS1E/PwJfDzMSy4mU9K0H1rcHejqYDY=",
    crds: [
      {
        file: "config/v1/zz_generated.crd-manifests/0000_00_cluster-version-operator_01_clusteroperators.crd.yaml",
        sets: [],
      },
      {
        file: "config/v1/zz_generated.crd-manifests/0000_00_cluster-version-operator_01_clusterversions-Default.crd.yaml",
        sets: [],
      },
      {
        file: "config/v1/zz_generated.crd-manifests/0000_03_config-operator_01_proxies.crd.yaml",
        sets: [],
      },
      {
        file: "machineconfiguration/v1/zz_generated.crd-manifests/0000_80_machine-config_01_machineconfigpools-Default.crd.yaml",
        sets: [],
      },
      // The image mirror kinds LCA carries across the pivot (agent-upgrade.test.ts).
      {
        file: "config/v1/zz_generated.crd-manifests/0000_10_config-operator_01_imagedigestmirrorsets.crd.yaml",
        sets: [],
      },
      // Infrastructure, whose infra ID LCA carries into the seed's etcd (seed-etcd.ts).
      {
        file: "config/v1/zz_generated.crd-manifests/0000_10_config-operator_01_infrastructures-Default.crd.yaml",
        sets: [],
      },
      {
        file: "operator/v1alpha1/zz_generated.crd-manifests/0000_10_config-operator_01_imagecontentsourcepolicies.crd.yaml",
        sets: [],
      },
    ],
  },
  {
    // OLM's ClusterServiceVersion (LCA's deferred health check), the version LCA's go.mod requires.
    path: "github.com/operator-framework/api",
    version: "v0.37.0",
    sum: "h1:2XCMWitBnumtJTqzip6LQKUwpM2pXVlt3gkpdlkbaCE=",
    crds: [
      { file: "crds/operators.coreos.com_clusterserviceversions.yaml", sets: [] },
      // The seed's CatalogSources, which LCA deletes after the pivot (agent-upgrade.test.ts).
      { file: "crds/operators.coreos.com_catalogsources.yaml", sets: [] },
    ],
  },
];

export type Crd = {
  apiVersion: string;
  kind: "CustomResourceDefinition";
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; plural: string };
    scope: "Namespaced" | "Cluster";
    versions: Array<{ name: string; served: boolean; storage: boolean }>;
  };
};

export interface CrdSource {
  readonly crd: Crd;
  /** module@version/file, or the repo path for our own. */
  readonly origin: string;
  readonly sets: readonly CrdSet[];
}

function parseCrds(text: string, origin: string): Crd[] {
  const crds: Crd[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`${origin}: ${doc.errors[0]?.message}`);
    const obj = doc.toJS() as Crd | null;
    if (obj?.kind === "CustomResourceDefinition") crds.push(obj);
  }
  if (!crds.length) throw new Error(`${origin}: no CustomResourceDefinition in file`);
  return crds;
}

/** Downloads (or finds in the module cache) the pinned modules and reads their CRDs. */
export async function loadThirdPartyCrds(modules = THIRD_PARTY_MODULES): Promise<CrdSource[]> {
  const noSumDb = modules.filter(m => m.notInSumDb).map(m => m.path);
  const downloaded = await downloadModules(modules, noSumDb);
  return modules.flatMap(m => {
    const dir = downloaded.get(m.path)?.dir ?? "";
    return m.crds.flatMap(({ file, sets }) => {
      const origin = `${m.path}@${m.version}/${file}`;
      return parseCrds(readFileSync(join(dir, file), "utf8"), origin).map(crd => ({
        crd,
        origin,
        sets,
      }));
    });
  });
}

/** The project's own CRDs from addon/crds/ (every `*.yaml`); each says its sets in an annotation. */
export function loadOwnCrds(dir = join(REPO, "addon", "crds")): CrdSource[] {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter(f => f.endsWith(".yaml"))
      .sort();
  } catch {
    return [];
  }
  return files.flatMap(f => {
    const origin = `addon/crds/${f}`;
    return parseCrds(readFileSync(join(dir, f), "utf8"), origin).map(crd => ({
      crd,
      origin,
      sets: ownSets(crd),
    }));
  });
}

/** Our CRDs carry `ibu-gitops.dev/installed-on: hub|spoke|hub,spoke` (default both). */
function ownSets(crd: Crd): CrdSet[] {
  const ann = (crd.metadata as { annotations?: Record<string, string> }).annotations?.[
    "ibu-gitops.dev/installed-on"
  ];
  return ann ? (ann.split(",").map(s => s.trim()) as CrdSet[]) : ["hub", "spoke"];
}
