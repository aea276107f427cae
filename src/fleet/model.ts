// The Fleet file (apiVersion ibu-gitops.dev/v1alpha1, kind Fleet): its typed form with
// defaults applied, and the schema that checks it. Defaults follow ZTP's IBU example.
import { IBGU_ACTIONS } from "./stages.js";
import { show, type PathSegment } from "./errors.js";
import { labelKeyProblem, labelValueProblem } from "./names.js";
import {
  dnsLabel,
  dnsSubdomain,
  imageRef,
  seedVersion,
  type ObjectSchema,
  type Schema,
} from "./schema.js";

export const FLEET_API_VERSION = "ibu-gitops.dev/v1alpha1";
export const FLEET_KIND = "Fleet";

/** The stage a group should reach now. Finalize, FinalizeRollback and Abort end at Idle. */
export const DESIRED_STAGES = [
  "Idle",
  "Prep",
  "Upgrade",
  "Finalize",
  "Rollback",
  "FinalizeRollback",
  "Abort",
] as const;
export type DesiredStage = (typeof DESIRED_STAGES)[number];

export const STAGE_STEPS = ["prep", "upgrade", "finalize", "rollback", "abort"] as const;
export type StageStep = (typeof STAGE_STEPS)[number];

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: ReadonlyArray<{ key: string; operator: string; values?: string[] }>;
}

export interface ConfigMapRef {
  readonly name: string;
  readonly namespace: string;
}

export interface OadpContentEntry {
  /** A bundled Backup/Restore pair: platform (ACM klusterlet) or lvms. */
  readonly template?: "platform" | "lvms";
  /** A user file of Backup/Restore CRs, relative to the fleet file. */
  readonly file?: string;
}

export interface StepRollout {
  readonly maxConcurrency: number;
  /** Minutes, for the whole CGU (TALM's remediationStrategy.timeout). */
  readonly timeout: number;
  /** cgu flavour: this stage's TALM batchTimeoutAction; absent: rollout.batchTimeoutAction. */
  readonly batchTimeoutAction?: "Continue" | "Abort";
}

export interface Group {
  readonly name: string;
  readonly clusters: readonly string[];
  readonly selector?: LabelSelector;
  readonly canaries: readonly string[];
  readonly stage: DesiredStage;
  /** ibgu flavour: add AbortOnFailure steps after Prep and Upgrade. */
  readonly abortOnFailure: boolean;
  /** ibgu flavour: an explicit plan for the main IBGU instead of one derived from `stage`. */
  readonly plan?: ReadonlyArray<readonly string[]>;
}

/** The ibu-gitops ACM addon (spoke agent and hub controller), installed from this fleet's output. */
export interface AddonSpec {
  /** One image for the agent and the hub controller. */
  readonly image: string;
  /** Spoke namespace of the agent (the AddOnDeploymentConfig's agentInstallNamespace). */
  readonly installNamespace: string;
  /** Hub namespace of the hub controller, the AddOnDeploymentConfig and the addon's Placement. */
  readonly hubNamespace: string;
  /** Clusters the addon is installed on; absent: the fleet's clusterSelector (or its groups). */
  readonly clusterSelector?: LabelSelector;
  /** How many clusters at once get a new agent version: a count ("5") or a percentage ("25%"). */
  readonly maxConcurrency: string;
  readonly hubReplicas: number;
  /** Bind the agent to the broad ClusterRole that applying LCA extra manifests needs. */
  readonly extraManifests: boolean;
}

export interface FleetSpec {
  readonly hub: {
    readonly policyNamespace: string;
    readonly upgradeNamespace: string;
    /**
     * Hub namespaces this fleet's Argo CD Application creates and owns (a Namespace object,
     * and for the policy namespace its ManagedClusterSetBinding `global`). The others must
     * exist, owned by someone else (ZTP's policies app owns ztp-group). docs/decisions.md.
     */
    readonly ownedNamespaces: readonly string[];
  };
  readonly flavour: "cgu" | "ibgu";
  readonly policyName: string;
  readonly clusterSelector: LabelSelector;
  readonly seedImage: {
    readonly image: string;
    readonly version: string;
    readonly pullSecretRef?: { readonly name: string };
  };
  readonly oadp: {
    readonly configMap: ConfigMapRef;
    readonly content: readonly OadpContentEntry[];
  };
  readonly extraManifests: readonly ConfigMapRef[];
  readonly catalogSources: ReadonlyArray<{
    readonly name: string;
    readonly namespace: string;
    readonly image: string;
    readonly displayName?: string;
    readonly publisher?: string;
  }>;
  readonly autoRollback: {
    readonly initMonitorTimeoutSeconds: number;
    readonly onInitMonitorTimeout: boolean;
    readonly onPostRebootConfigFailure: boolean;
    readonly onUpgradeFailure: boolean;
  };
  readonly imageCleanup: { readonly onPrep: boolean; readonly diskUsageThresholdPercent: number };
  /** Annotations for every generated ImageBasedUpgrade (keys must contain lca.openshift.io). */
  readonly ibuAnnotations?: Readonly<Record<string, string>>;
  /** Like PolicyGenerator's policyDefaults: severity and evaluation interval of the policies. */
  readonly policyDefaults: {
    readonly severity: "low" | "medium" | "high" | "critical";
    readonly evaluationInterval: { readonly compliant: string; readonly noncompliant: string };
  };
  readonly groups: readonly Group[];
  readonly rollout: Readonly<Record<StageStep, StepRollout>> & {
    readonly batchTimeoutAction: "Continue" | "Abort";
  };
  readonly argocd: {
    readonly namespace: string;
    /** AppProject name; absent: one project per fleet, named like its Application. */
    readonly project?: string;
    readonly repoURL: string;
    readonly targetRevision: string;
    readonly path: string;
  };
  readonly addon?: AddonSpec;
}

export interface Fleet {
  readonly apiVersion: typeof FLEET_API_VERSION;
  readonly kind: typeof FLEET_KIND;
  readonly metadata: { readonly name: string };
  readonly spec: FleetSpec;
  /** Folder of the fleet file: user files (OADP content) are relative to it. */
  readonly baseDir: string;
  readonly file: string;
}

const str = (doc: string, extra: Partial<Schema> = {}): Schema =>
  ({ type: "string", doc, ...extra }) as Schema;
const label = (doc: string, extra: Partial<Schema> = {}): Schema =>
  str(doc, { check: dnsLabel, ...extra });
const name = (doc: string, extra: Partial<Schema> = {}): Schema =>
  str(doc, { check: dnsSubdomain, ...extra });

const labelSelector: ObjectSchema = {
  type: "object",
  doc: "a Kubernetes label selector",
  fields: {
    matchLabels: { type: "map", doc: "labels that must all match", values: str("label value") },
    matchExpressions: {
      type: "array",
      doc: "set-based requirements",
      items: {
        type: "object",
        doc: "a requirement",
        fields: {
          key: str("label key", { required: true }),
          operator: str("In, NotIn, Exists or DoesNotExist", {
            required: true,
            enum: ["In", "NotIn", "Exists", "DoesNotExist"],
          }),
          values: { type: "array", doc: "values", items: str("value") },
        },
      },
    },
  },
};

const configMapRef = (defaults?: { name: string; namespace: string }): ObjectSchema => ({
  type: "object",
  doc: "a ConfigMap on the spoke",
  defaultEmpty: defaults !== undefined,
  fields: {
    name: name("ConfigMap name", defaults ? { default: defaults.name } : { required: true }),
    namespace: label(
      "ConfigMap namespace",
      defaults ? { default: defaults.namespace } : { required: true },
    ),
  },
});

const stepRollout = (maxConcurrency: number, timeout: number): ObjectSchema => ({
  type: "object",
  doc: "batch size and timeout of one stage's rollout",
  defaultEmpty: true,
  fields: {
    batchTimeoutAction: str(
      "cgu flavour: what TALM does when a batch of this stage times out (default: rollout.batchTimeoutAction)",
      { enum: ["Continue", "Abort"] },
    ),
    maxConcurrency: { type: "integer", doc: "clusters per batch", min: 1, default: maxConcurrency },
    timeout: {
      type: "integer",
      doc: "minutes for the whole rollout of the stage",
      min: 1,
      default: timeout,
    },
  },
});

export const FLEET_SPEC_SCHEMA: ObjectSchema = {
  type: "object",
  doc: "the fleet and its upgrade",
  required: true,
  fields: {
    hub: {
      type: "object",
      doc: "hub namespaces",
      defaultEmpty: true,
      fields: {
        policyNamespace: label("namespace of Policies, Placements and the hub OADP ConfigMap", {
          default: "ztp-group",
        }),
        upgradeNamespace: label("namespace of ClusterGroupUpgrades or the ImageBasedGroupUpgrade", {
          default: "default",
        }),
        ownedNamespaces: {
          type: "array",
          doc: "hub namespaces this fleet's Argo CD Application creates and owns",
          default: [],
          items: label("namespace"),
        },
      },
    },
    flavour: str(
      "cgu (ZTP policies stepped by ClusterGroupUpgrades) or ibgu (one ImageBasedGroupUpgrade per group)",
      {
        enum: ["cgu", "ibgu"],
        default: "cgu",
      },
    ),
    policyName: label("prefix of the stage policies, like PolicyGenerator's metadata.name", {
      default: "group-ibu",
    }),
    clusterSelector: {
      ...labelSelector,
      doc: "clusters the stage policies are placed on (ZTP: group-du-sno)",
    },
    seedImage: {
      type: "object",
      doc: "the seed image to upgrade to",
      required: true,
      fields: {
        image: str("seed image pull spec", { required: true, check: imageRef }),
        version: str("OpenShift version of the seed", { required: true, check: seedVersion }),
        pullSecretRef: {
          type: "object",
          doc: "Secret with the seed pull secret, by name (never its content)",
          fields: { name: name("Secret name", { required: true }) },
        },
      },
    },
    oadp: {
      type: "object",
      doc: "OADP Backup/Restore content",
      defaultEmpty: true,
      fields: {
        configMap: configMapRef({ name: "oadp-cm", namespace: "openshift-adp" }),
        content: {
          type: "array",
          doc: "Backup/Restore pairs: {template: platform|lvms} or {file: path}",
          default: [{ template: "platform" }],
          items: {
            type: "object",
            doc: "one entry: template or file",
            fields: {
              template: str("bundled pair", { enum: ["platform", "lvms"] }),
              file: str("a file of Backup/Restore CRs, relative to the fleet file"),
            },
          },
        },
      },
    },
    extraManifests: {
      type: "array",
      doc: "extra-manifest ConfigMaps on the spoke",
      default: [],
      items: configMapRef(),
    },
    catalogSources: {
      type: "array",
      doc: "custom CatalogSources to keep after the upgrade",
      default: [],
      items: {
        type: "object",
        doc: "a CatalogSource",
        fields: {
          name: name("CatalogSource name", { required: true }),
          namespace: label("CatalogSource namespace", { default: "openshift-marketplace" }),
          image: str("index image", { required: true, check: imageRef }),
          displayName: str("display name"),
          publisher: str("publisher"),
        },
      },
    },
    autoRollback: {
      type: "object",
      doc: "LCA automatic rollback",
      defaultEmpty: true,
      fields: {
        initMonitorTimeoutSeconds: {
          type: "integer",
          doc: "LCA init-monitor timeout",
          min: 0,
          default: 1800,
        },
        onInitMonitorTimeout: {
          type: "boolean",
          doc: "roll back when the upgrade does not complete in time",
          default: true,
        },
        onPostRebootConfigFailure: {
          type: "boolean",
          doc: "roll back when post-pivot configuration fails",
          default: true,
        },
        onUpgradeFailure: {
          type: "boolean",
          doc: "roll back on a terminal post-pivot failure",
          default: true,
        },
      },
    },
    imageCleanup: {
      type: "object",
      doc: "container image cleanup during Prep",
      defaultEmpty: true,
      fields: {
        onPrep: {
          type: "boolean",
          doc: "clean up unused images when disk usage is above the threshold",
          default: true,
        },
        diskUsageThresholdPercent: {
          type: "integer",
          doc: "threshold",
          min: 1,
          max: 100,
          default: 50,
        },
      },
    },
    ibuAnnotations: {
      type: "map",
      doc: "annotations for the generated ImageBasedUpgrade (e.g. lca.openshift.io/target-ocp-version-manifest-count)",
      values: str("annotation value"),
    },
    policyDefaults: {
      type: "object",
      doc: "severity and evaluation interval of the generated policies (PolicyGenerator's policyDefaults)",
      defaultEmpty: true,
      fields: {
        severity: str("policy severity", {
          enum: ["low", "medium", "high", "critical"],
          default: "low",
        }),
        evaluationInterval: {
          type: "object",
          doc: "how often the ConfigurationPolicy is evaluated",
          defaultEmpty: true,
          fields: {
            compliant: str("interval while compliant, e.g. 10s, 5m, or never", {
              default: "10s",
              check: interval,
            }),
            noncompliant: str("interval while noncompliant, e.g. 10s, 5m, or never", {
              default: "10s",
              check: interval,
            }),
          },
        },
      },
    },
    groups: {
      type: "array",
      doc: "cluster groups, upgraded in order",
      required: true,
      minItems: 1,
      items: {
        type: "object",
        doc: "a group of clusters",
        fields: {
          name: label("group name", { required: true }),
          clusters: {
            type: "array",
            doc: "ManagedCluster names",
            default: [],
            // A ManagedCluster's name is also its namespace on the hub, so it is a DNS label.
            items: label("cluster name"),
          },
          selector: { ...labelSelector, doc: "ManagedClusters selected by label" },
          canaries: {
            type: "array",
            doc: "clusters upgraded first, one per batch",
            default: [],
            items: label("cluster name"),
          },
          stage: str("the stage this group should reach now", {
            enum: DESIRED_STAGES,
            default: "Idle",
          }),
          abortOnFailure: {
            type: "boolean",
            doc: "ibgu flavour: move clusters whose Prep or Upgrade failed back to Idle",
            default: false,
          },
          plan: {
            type: "array",
            doc: "ibgu flavour: explicit plan items, each a list of TALM actions",
            // TALM's CRD: at most 6 plan items of at most 4 actions each.
            minItems: 1,
            maxItems: 6,
            items: {
              type: "array",
              doc: "one plan item: up to 4 actions",
              minItems: 1,
              maxItems: 4,
              items: str("a TALM action", { enum: IBGU_ACTIONS }),
            },
          },
        },
      },
    },
    rollout: {
      type: "object",
      doc: "per-stage batch sizes and timeouts",
      defaultEmpty: true,
      fields: {
        prep: stepRollout(50, 240),
        upgrade: stepRollout(50, 240),
        finalize: stepRollout(100, 60),
        rollback: stepRollout(50, 240),
        abort: stepRollout(100, 60),
        batchTimeoutAction: str("what TALM does when a batch times out", {
          enum: ["Continue", "Abort"],
          default: "Continue",
        }),
      },
    },
    argocd: {
      type: "object",
      doc: "the Argo CD Application that syncs the output",
      defaultEmpty: true,
      fields: {
        namespace: label("Argo CD namespace", { default: "openshift-gitops" }),
        project: label("AppProject name (default: one per fleet, named like its Application)"),
        repoURL: str("Git repository of the output", {
          default: "https://git.example.com/fleet.git",
          check: v => (v.trim() ? undefined : "must not be empty"),
        }),
        targetRevision: str("branch or tag", {
          default: "main",
          check: v => (v.trim() ? undefined : "must not be empty"),
        }),
        path: str("folder of the output in the repository", {
          default: "policies",
          check: repoPath,
        }),
      },
    },
    addon: {
      type: "object",
      doc: "the ibu-gitops ACM addon: spoke agent and hub controller",
      fields: {
        image: str("image of the agent and the hub controller", {
          required: true,
          check: imageRef,
        }),
        installNamespace: label("spoke namespace of the agent", {
          default: "open-cluster-management-agent-addon",
        }),
        hubNamespace: label("hub namespace of the hub controller and the addon configuration", {
          default: "ibu-gitops",
        }),
        clusterSelector: {
          ...labelSelector,
          doc: "clusters the addon is installed on (default: the fleet's clusterSelector)",
        },
        maxConcurrency: str(
          "clusters that get a new agent version at once: a count or a percentage",
          {
            default: "25%",
            // OCM's pattern is ^((100|[0-9]{1,2})%|[0-9]+)$; zero (however written) would never
            // roll out, and leading zeros read differently elsewhere.
            check: v =>
              /^([1-9][0-9]?%|100%|[1-9][0-9]{0,8})$/.test(v)
                ? undefined
                : `${show(v)} is not a count or a percentage such as "25%" (OCM's rollout strategy: 1 to 999999999, or 1% to 100%, no leading zeros)`,
          },
        ),
        hubReplicas: {
          type: "integer",
          doc: "hub controller replicas (leader election)",
          min: 1,
          default: 2,
        },
        extraManifests: {
          type: "boolean",
          doc: "grant the agent the broad rights applying LCA extra manifests needs",
          default: true,
        },
      },
    },
  },
};

type Problem = { path: PathSegment[]; message: string };

/** A ConfigurationPolicy evaluation interval: a Go duration such as 10s or 1h30m, or never. */
function interval(v: string): string | undefined {
  return v === "never" || /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/.test(v)
    ? undefined
    : `${JSON.stringify(v)} is not a duration such as 10s, 5m or 1h30m, or never (ConfigurationPolicy evaluationInterval)`;
}

/** What selects every ManagedCluster on purpose: ACM labels each one `name=<cluster>`. */
export const SELECT_ALL_HINT =
  "to select every managed cluster on purpose, write matchExpressions: [{key: name, operator: Exists}]";

/**
 * What the apiserver would refuse in a label selector that the schema cannot see (its
 * ValidateLabelSelector): label key and value syntax, and the values each operator needs
 * (In/NotIn: some; Exists/DoesNotExist: none). An empty selector, which Kubernetes reads as
 * "everything", is refused too; SELECT_ALL_HINT says how to ask for everything explicitly.
 * `passed` says which parts passed the schema (only those are read).
 */
export function labelSelectorProblems(
  sel: LabelSelector,
  passed: (...path: PathSegment[]) => boolean = () => true,
): Problem[] {
  const out: Problem[] = [];
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) {
    if (!passed("matchLabels", k)) continue;
    const msg = labelKeyProblem(k) ?? (typeof v === "string" ? labelValueProblem(v) : undefined);
    if (msg) out.push({ path: ["matchLabels", k], message: msg });
  }
  (sel.matchExpressions ?? []).forEach((e, i) => {
    if (!e || !passed("matchExpressions", i)) return;
    const keyMsg = labelKeyProblem(e.key);
    if (keyMsg) out.push({ path: ["matchExpressions", i, "key"], message: keyMsg });
    const values = e.values ?? [];
    if ((e.operator === "In" || e.operator === "NotIn") && !values.length)
      out.push({ path: ["matchExpressions", i], message: `${e.operator} needs values` });
    if ((e.operator === "Exists" || e.operator === "DoesNotExist") && values.length)
      out.push({
        path: ["matchExpressions", i, "values"],
        message: `${e.operator} takes no values`,
      });
    values.forEach((v, j) => {
      const msg = typeof v === "string" ? labelValueProblem(v) : undefined;
      if (msg) out.push({ path: ["matchExpressions", i, "values", j], message: msg });
    });
  });
  if (
    passed("matchLabels") &&
    passed("matchExpressions") &&
    !Object.keys(sel.matchLabels ?? {}).length &&
    !(sel.matchExpressions ?? []).length
  )
    out.push({
      path: [],
      message: `is empty: it would select every managed cluster of the hub (${SELECT_ALL_HINT})`,
    });
  return out;
}

/**
 * The addon's rules across fields: a hub namespace of its own (the fleet's namespaces already
 * carry a Namespace object and a ManagedClusterSetBinding). Its selector is checked with the others.
 */
export function addonProblems(spec: FleetSpec): Problem[] {
  const addon = spec.addon;
  if (!addon) return [];
  const out: Problem[] = [];
  const taken = new Set(["default", spec.hub.policyNamespace, spec.hub.upgradeNamespace]);
  if (spec.flavour === "ibgu") taken.add(spec.oadp.configMap.namespace);
  if (taken.has(addon.hubNamespace))
    out.push({
      path: ["spec", "addon", "hubNamespace"],
      message: `${addon.hubNamespace} is already a namespace of this fleet; the addon needs one of its own`,
    });
  return out;
}

/** Argo CD's source.path: a relative folder inside the repository (no leading '/', no '..'). */
function repoPath(v: string): string | undefined {
  if (!v.trim()) return "must not be empty";
  if (v.startsWith("/") || v.split("/").includes(".."))
    return `${show(v)} must be a folder inside the repository (relative, without '..')`;
  return undefined;
}
