// Everything one fleet file generates for the hub: namespaces, the hub OADP ConfigMap, the
// ZTP stage policies and their placement, and per group the ClusterGroupUpgrades (cgu
// flavour) or ImageBasedGroupUpgrades (ibgu flavour) for the stage the group should reach.
import { Construct } from "constructs";
import type {
  DesiredStage,
  Fleet,
  FleetSpec,
  Group,
  LabelSelector,
  StageStep,
} from "../fleet/model.js";
import { TARGET_VERSION_ANNOTATION } from "../../addon/hub/groups.js";
import { cguName, cguPolicies, ibguName, policyNames, type PolicyNames } from "../fleet/names.js";
import { CGU_STEPS, ibguPlans, stepOfAction, type IbguPlan } from "../fleet/stages.js";
import type { OadpData } from "../render/oadp.js";
import type { KubeObject, TemplateSet } from "../render/templates.js";
import { stringifyYaml } from "../render/yaml.js";
import { emit, SyncWave } from "./output.js";
import {
  clusterSetBinding,
  PolicyPlacement,
  StagePolicy,
  type ObjectTemplate,
} from "./stage-policies.js";

export const AUTO_IMPORT_ANNOTATION = "import.open-cluster-management.io/disable-auto-import";
const LCA_NAMESPACE = "openshift-lifecycle-agent";
const EXTRA_MANIFESTS_CM = "ibu-gitops-extra-manifests";

export interface IbuFleetProps {
  readonly fleet: Fleet;
  readonly templates: TemplateSet;
  /** Backup/Restore files for the OADP ConfigMap, by key. */
  readonly oadpData: OadpData;
}

export class IbuFleet extends Construct {
  private readonly spec: FleetSpec;
  private readonly names: PolicyNames;
  private readonly templates: TemplateSet;

  constructor(scope: Construct, id: string, props: IbuFleetProps) {
    super(scope, id);
    this.spec = props.fleet.spec;
    this.names = policyNames(this.spec.policyName);
    this.templates = props.templates;
    this.namespaces();
    this.hubConfigMaps(props.oadpData);
    if (this.spec.flavour === "cgu") {
      this.stagePolicies();
      for (const g of this.spec.groups) this.groupCgus(g);
    } else {
      this.extraManifestsPolicy();
      for (const g of this.spec.groups) this.groupIbgus(g);
    }
  }

  /**
   * Only the namespaces this fleet owns (hub.ownedNamespaces): a Namespace in two Argo CD
   * Applications is fought over (each sync rewrites its tracking id, SharedResourceWarning)
   * and pruned with whichever app drops it, taking the other fleets' objects with it. They
   * are never pruned or deleted by Argo CD either (Prune=false, Delete=false): other fleets
   * and ZTP may have objects in them.
   */
  private namespaces(): void {
    for (const name of [...new Set(this.spec.hub.ownedNamespaces)].sort()) {
      emit(
        this,
        `Namespace-${name}`,
        {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: {
            name,
            annotations: { "argocd.argoproj.io/sync-options": "Prune=false,Delete=false" },
          },
        },
        { file: "namespaces.yaml", wave: SyncWave.namespaces },
      );
    }
  }

  private hubConfigMaps(data: OadpData): void {
    // cgu: the hub copy lives with the policies and a hub template copies it to each spoke.
    // ibgu: TALM reads it from the hub at the very namespace/name the IBU names.
    const ns =
      this.spec.flavour === "cgu"
        ? this.spec.hub.policyNamespace
        : this.spec.oadp.configMap.namespace;
    if (this.hasOadpContent)
      this.configMap("OadpConfigMap", this.spec.oadp.configMap.name, ns, data);
    const extra = this.extraManifestsData();
    if (extra)
      this.configMap(
        "ExtraManifestsConfigMap",
        EXTRA_MANIFESTS_CM,
        this.spec.hub.policyNamespace,
        extra,
      );
  }

  private configMap(
    id: string,
    name: string,
    namespace: string,
    data: Record<string, string>,
  ): void {
    const [cm] = this.templates.render("ConfigMap", { name, namespace, data });
    emit(this, id, cm as KubeObject, { file: "hub-configmaps.yaml", wave: SyncWave.config });
  }

  /** Custom CatalogSources, as an LCA extra manifest labelled with the target version. */
  private extraManifestsData(): Record<string, string> | undefined {
    if (!this.spec.catalogSources.length) return undefined;
    const targetVersion = this.spec.seedImage.version;
    const docs = this.spec.catalogSources.map(
      c => this.templates.render("CatalogSource", { ...c, targetVersion })[0],
    );
    return { "catalogsources.yaml": docs.map(d => stringifyYaml(d)).join("---\n") };
  }

  private extraManifestsRefs(): Array<{ name: string; namespace: string }> {
    const refs = [...this.spec.extraManifests];
    if (this.spec.catalogSources.length)
      refs.push({ name: EXTRA_MANIFESTS_CM, namespace: LCA_NAMESPACE });
    return refs;
  }

  /** LCA's annotations for what differs from its defaults (auto-rollback, image cleanup). */
  private lcaAnnotations(): Record<string, string> {
    const a: Record<string, string> = {};
    const { autoRollback, imageCleanup } = this.spec;
    if (!autoRollback.onInitMonitorTimeout)
      a["auto-rollback-on-failure.lca.openshift.io/init-monitor"] = "Disabled";
    if (!autoRollback.onPostRebootConfigFailure)
      a["auto-rollback-on-failure.lca.openshift.io/post-reboot-config"] = "Disabled";
    if (!autoRollback.onUpgradeFailure)
      a["auto-rollback-on-failure.lca.openshift.io/upgrade-completion"] = "Disabled";
    if (!imageCleanup.onPrep) a["image-cleanup.lca.openshift.io/on-prep"] = "Disabled";
    if (imageCleanup.diskUsageThresholdPercent !== 50) {
      a["image-cleanup.lca.openshift.io/disk-usage-threshold-percent"] = String(
        imageCleanup.diskUsageThresholdPercent,
      );
    }
    // spec.ibuAnnotations pass through as given (validation keeps them apart from the above).
    for (const [k, v] of Object.entries(this.spec.ibuAnnotations ?? {}).sort(([x], [y]) =>
      x.localeCompare(y),
    ))
      a[k] = v;
    return a;
  }

  /**
   * Whether the fleet ships OADP content. With `oadp.content: []` there is no oadp ConfigMap,
   * no oadpContent in the IBU and, in the cgu flavour, no oadp-cm policy unless extra manifests
   * need it: LCA's Prep fails an IBU whose OADP ConfigMaps hold no Backup/Restore pair
   * (lifecycle-agent internal/backuprestore, "Both backup and restore CRs should be specified"),
   * while an IBU without oadpContent skips the OADP checks.
   */
  private get hasOadpContent(): boolean {
    return this.spec.oadp.content.length > 0;
  }

  private oadpContent(): Array<{ name: string; namespace: string }> | undefined {
    return this.hasOadpContent ? [this.spec.oadp.configMap] : undefined;
  }

  /** The cgu flavour's oadp-cm policy exists: it copies the OADP or extra-manifest ConfigMaps. */
  private get hasOadpCmPolicy(): boolean {
    return this.hasOadpContent || this.spec.catalogSources.length > 0;
  }

  private ibu(stage: string, extra: object = {}): KubeObject {
    const [obj] = this.templates.render("ImageBasedUpgrade", { stage, ...extra });
    return obj as KubeObject;
  }

  private prepIbu(status?: object): KubeObject {
    const annotations = this.lcaAnnotations();
    return this.ibu("Prep", {
      annotations: Object.keys(annotations).length ? annotations : undefined,
      seedImage: this.spec.seedImage,
      oadpContent: this.oadpContent(),
      extraManifests: this.extraManifestsRefs(),
      autoRollback: this.spec.autoRollback,
      status,
    });
  }

  private stagePolicies(): void {
    const ns = this.spec.hub.policyNamespace;
    const file = "policies.yaml";
    const n = this.names;
    const policy = (id: string, name: string, objectTemplates: ObjectTemplate[]): StagePolicy =>
      new StagePolicy(this, id, {
        name,
        namespace: ns,
        objectTemplates,
        file,
        ...this.spec.policyDefaults,
      });
    const oadpCopy = this.templates.render("ConfigMap", {
      ...this.spec.oadp.configMap,
      dataTemplate: `{{hub copyConfigMapData "${ns}" "${this.spec.oadp.configMap.name}" hub}}`,
    })[0] as KubeObject;
    const oadpTemplates: ObjectTemplate[] = this.hasOadpContent
      ? [{ complianceType: "mustonlyhave", objectDefinition: oadpCopy }]
      : [];
    if (this.spec.catalogSources.length) {
      const extraCopy = this.templates.render("ConfigMap", {
        name: EXTRA_MANIFESTS_CM,
        namespace: LCA_NAMESPACE,
        dataTemplate: `{{hub copyConfigMapData "${ns}" "${EXTRA_MANIFESTS_CM}" hub}}`,
      })[0] as KubeObject;
      oadpTemplates.push({ complianceType: "mustonlyhave", objectDefinition: extraCopy });
    }
    if (oadpTemplates.length) policy("OadpCmPolicy", n.oadpCm, oadpTemplates);
    // Unlike ZTP, the Prep check does not pin the condition message: LCA writes a different
    // message when extra manifests only warn, which would keep the policy NonCompliant forever.
    policy("PrepPolicy", n.prep, [
      {
        complianceType: "musthave",
        objectDefinition: this.prepIbu({
          type: "PrepCompleted",
          status: "True",
          reason: "Completed",
        }),
      },
    ]);
    policy("UpgradePolicy", n.upgrade, [
      {
        complianceType: "musthave",
        objectDefinition: this.ibu("Upgrade", {
          status: { type: "UpgradeCompleted", status: "True", reason: "Completed" },
        }),
      },
    ]);
    // mustonlyhave drops seedImageRef, oadpContent and the rest, returning the IBU to a bare Idle.
    policy("FinalizePolicy", n.finalize, [
      { complianceType: "mustonlyhave", objectDefinition: this.ibu("Idle") },
      {
        complianceType: "musthave",
        objectDefinition: this.ibu("Idle", {
          status: { type: "Idle", status: "True", reason: "Idle" },
        }),
      },
    ]);
    policy("RollbackPolicy", n.rollback, [
      {
        complianceType: "musthave",
        objectDefinition: this.ibu("Rollback", {
          status: { type: "RollbackCompleted", status: "True", reason: "Completed" },
        }),
      },
    ]);
    this.place([
      ...(oadpTemplates.length ? [n.oadpCm] : []),
      n.prep,
      n.upgrade,
      n.finalize,
      n.rollback,
    ]);
  }

  /** Placements and bindings for the policies, and the cluster-set binding they need. */
  private place(policies: readonly string[]): void {
    const ns = this.spec.hub.policyNamespace;
    // The binding belongs with its namespace: where another app owns the namespace (ZTP's
    // policies app owns ztp-group and its `global` binding), that app provides it.
    if (this.spec.hub.ownedNamespaces.includes(ns)) clusterSetBinding(this, ns, "placement.yaml");
    const selectors = this.placementSelectors();
    for (const policy of policies) {
      new PolicyPlacement(this, `Placement-${policy}`, {
        namespace: ns,
        policy,
        selectors,
        file: "placement.yaml",
      });
    }
  }

  /** ibgu flavour: TALM's IBGU copies only oadpContent, so extra manifests need a policy. */
  private extraManifestsPolicy(): void {
    if (!this.spec.catalogSources.length) return;
    const ns = this.spec.hub.policyNamespace;
    const copy = this.templates.render("ConfigMap", {
      name: EXTRA_MANIFESTS_CM,
      namespace: LCA_NAMESPACE,
      dataTemplate: `{{hub copyConfigMapData "${ns}" "${EXTRA_MANIFESTS_CM}" hub}}`,
    })[0] as KubeObject;
    new StagePolicy(this, "ExtraManifestsPolicy", {
      name: this.names.extraManifests,
      namespace: ns,
      remediationAction: "enforce",
      objectTemplates: [{ complianceType: "mustonlyhave", objectDefinition: copy }],
      file: "policies.yaml",
      ...this.spec.policyDefaults,
    });
    this.place([this.names.extraManifests]);
  }

  /** The fleet's clusterSelector, or one predicate per group (its selector, its cluster list). */
  placementSelectors(): LabelSelector[] {
    if (this.spec.clusterSelector) return [this.spec.clusterSelector];
    return this.spec.groups.flatMap(g => [
      ...(g.selector ? [g.selector] : []),
      // ACM labels every ManagedCluster with name=<cluster>; TALM's own placements use it too.
      ...(g.clusters.length
        ? [
            {
              matchExpressions: [{ key: "name", operator: "In" as const, values: [...g.clusters] }],
            },
          ]
        : []),
    ]);
  }

  private groupCgus(g: Group): void {
    const version = this.spec.seedImage.version;
    for (const step of CGU_STEPS[g.stage]) {
      const name = cguName(g.name, step, version, this.names);
      // The upgrade CGU of the same commit waits for the prep CGU (see blockOn).
      const after = step === "upgrade" ? cguName(g.name, "prep", version, this.names) : undefined;
      emit(this, `Cgu-${g.name}-${step}`, this.cgu(g, step, name, after), {
        file: `upgrades/${g.name}.yaml`,
        wave: SyncWave.assessed,
      });
    }
  }

  /**
   * One stage step's CGU. `after`: a CGU of the same group this one must wait for. TALM's
   * blockingCRs with the "partial" completion mode wait until that CGU has finished (Succeeded
   * present, whatever its status), and cluster filtering then keeps only the clusters it
   * completed: an upgrade CGU never races its prep CGU, and a cluster whose Prep timed out is
   * not upgraded (constants BlockingCGUCompletionModeAnn, BlockingCGUClusterFiltering).
   */
  private cgu(g: Group, step: StageStep, name: string, after?: string): KubeObject {
    const rollout = this.spec.rollout[step];
    const namespace = this.spec.hub.upgradeNamespace;
    return {
      apiVersion: "ran.openshift.io/v1alpha1",
      kind: "ClusterGroupUpgrade",
      metadata: {
        name,
        namespace,
        labels: groupLabels(g, stageLabel(g.stage)),
        annotations: {
          [TARGET_VERSION_ANNOTATION]: this.spec.seedImage.version,
          ...(after ? BLOCKING_ANNOTATIONS : {}),
        },
      },
      spec: {
        ...(g.clusters.length ? { clusters: [...g.clusters] } : {}),
        ...(g.selector ? { clusterLabelSelectors: [g.selector] } : {}),
        ...(after ? { blockingCRs: [{ name: after, namespace }] } : {}),
        managedPolicies: cguPolicies(step, this.names, this.hasOadpCmPolicy),
        enable: true,
        batchTimeoutAction: rollout.batchTimeoutAction ?? this.spec.rollout.batchTimeoutAction,
        remediationStrategy: {
          maxConcurrency: rollout.maxConcurrency,
          timeout: rollout.timeout,
          ...(g.canaries.length ? { canaries: [...g.canaries] } : {}),
        },
        ...cguActions(step),
      },
    };
  }

  private groupIbgus(g: Group): void {
    const set = g.plan ? { main: g.plan as IbguPlan } : ibguPlans(g.stage, g.abortOnFailure);
    const version = this.spec.seedImage.version;
    const file = `upgrades/${g.name}.yaml`;
    const opts = { file, wave: SyncWave.assessed };
    if (set.main)
      emit(this, `Ibgu-${g.name}`, this.ibgu(g, ibguName(g.name, version), set.main), opts);
    if (set.abort)
      emit(
        this,
        `Ibgu-${g.name}-abort`,
        this.ibgu(g, ibguName(g.name, version, "abort"), set.abort),
        opts,
      );
    if (set.rollback)
      emit(
        this,
        `Ibgu-${g.name}-rollback`,
        this.ibgu(g, ibguName(g.name, version, "rollback"), set.rollback),
        opts,
      );
  }

  private ibgu(g: Group, name: string, plan: IbguPlan): KubeObject {
    const spec = this.spec;
    const annotations = this.lcaAnnotations();
    return {
      apiVersion: "lcm.openshift.io/v1alpha1",
      kind: "ImageBasedGroupUpgrade",
      metadata: {
        name,
        namespace: spec.hub.upgradeNamespace,
        labels: groupLabels(g, stageLabel(g.stage)),
        // TALM copies annotations containing lca.openshift.io onto each cluster's IBU.
        ...(Object.keys(annotations).length ? { annotations } : {}),
      },
      spec: {
        clusterLabelSelectors: [requireSelector(g)],
        ibuSpec: {
          seedImageRef: spec.seedImage,
          ...(this.hasOadpContent ? { oadpContent: [spec.oadp.configMap] } : {}),
          ...(this.extraManifestsRefs().length
            ? { extraManifests: this.extraManifestsRefs() }
            : {}),
          autoRollbackOnFailure: {
            initMonitorTimeoutSeconds: spec.autoRollback.initMonitorTimeoutSeconds,
          },
        },
        plan: plan.map(actions => {
          const rollout = spec.rollout[stepOfAction(actions[0] ?? "Prep")];
          return {
            actions: [...actions],
            rolloutStrategy: { maxConcurrency: rollout.maxConcurrency, timeout: rollout.timeout },
          };
        }),
      },
    };
  }
}

function stageLabel(stage: DesiredStage): string {
  return stage;
}

function groupLabels(g: Group, stage: string): Record<string, string> {
  return { "ibu-gitops.dev/group": g.name, "ibu-gitops.dev/desired-stage": stage };
}

/**
 * TALM's annotation actions, as ZTP's docs set them: the Upgrade CGU disables auto-import
 * before it starts and re-enables it per completed cluster; finalize, rollback and abort
 * re-enable it first, because TALM skips afterCompletion for clusters that timed out.
 */
/** TALM: wait for a blocking CGU to finish in any state, then drop clusters it did not complete. */
const BLOCKING_ANNOTATIONS = {
  "ran.openshift.io/blocking-cgu-completion-mode": "partial",
  "ran.openshift.io/blocking-cgu-cluster-filtering": "true",
} as const;

function cguActions(step: StageStep): object {
  switch (step) {
    case "upgrade":
      return {
        actions: {
          beforeEnable: { addClusterAnnotations: { [AUTO_IMPORT_ANNOTATION]: "true" } },
          afterCompletion: { removeClusterAnnotations: [AUTO_IMPORT_ANNOTATION] },
        },
      };
    case "finalize":
    case "rollback":
    case "abort":
      return { actions: { beforeEnable: { removeClusterAnnotations: [AUTO_IMPORT_ANNOTATION] } } };
    case "prep":
      return {};
  }
}

/** The ibgu flavour selects by label only; validation guarantees a selector, this re-checks. */
function requireSelector(g: Group): LabelSelector {
  if (!g.selector) throw new Error(`group ${g.name}: the ibgu flavour needs a selector`);
  return g.selector;
}
