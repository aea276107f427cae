// The Fleet file (apiVersion ibu-gitops.dev/v1alpha1, kind Fleet): its zod schema, the types
// inferred from it (defaults applied), and its selector and addon rules. Defaults follow ZTP's.
import { z } from "zod";
import { IBGU_ACTIONS } from "./stages.js";
import { clip, show, type PathSegment } from "./errors.js";
import { applicationName, labelKeyProblem, labelValueProblem } from "./names.js";
import {
  bool,
  dnsLabel,
  dnsSubdomain,
  fields,
  imageRef,
  int,
  list,
  mapping,
  oneOf,
  seedVersion,
  str,
  type Check,
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

// ---- the schema; the types below are inferred from it ----

const label = (doc: string) => str(doc, { check: dnsLabel });
const name = (doc: string) => str(doc, { check: dnsSubdomain });
const notEmpty: Check = v => (v.trim() ? undefined : "must not be empty");

/** A Kubernetes label selector; its keys, values and operators' values are checked by load.ts. */
const labelSelector = (doc: string) =>
  fields(doc, {
    matchLabels: mapping("labels that must all match", str("label value")).optional(),
    matchExpressions: list(
      "set-based requirements",
      fields("a requirement", {
        key: str("label key"),
        operator: oneOf("In, NotIn, Exists or DoesNotExist", [
          "In",
          "NotIn",
          "Exists",
          "DoesNotExist",
        ]),
        values: list("values", str("value")).optional(),
      }),
    ).optional(),
  });

/** A ConfigMap on the spoke; with `defaults`, both fields (and the whole mapping) may be left out. */
function configMapRef(defaults: { name: string; namespace: string }) {
  return fields("a ConfigMap on the spoke", {
    name: name("ConfigMap name").default(defaults.name),
    namespace: label("ConfigMap namespace").default(defaults.namespace),
  }).prefault({});
}
const requiredConfigMapRef = fields("a ConfigMap on the spoke", {
  name: name("ConfigMap name"),
  namespace: label("ConfigMap namespace"),
});

const stepRollout = (maxConcurrency: number, timeout: number) =>
  fields("batch size and timeout of one stage's rollout", {
    batchTimeoutAction: oneOf(
      "cgu flavour: what TALM does when a batch of this stage times out (default: rollout.batchTimeoutAction)",
      ["Continue", "Abort"],
    ).optional(),
    maxConcurrency: int("clusters per batch", { min: 1 }).default(maxConcurrency),
    // TALM's remediationStrategy.timeout: for the whole CGU, not per batch.
    timeout: int("minutes for the whole rollout of the stage", { min: 1 }).default(timeout),
  }).prefault({});

/** A group of clusters and the stage it should reach now. */
const group = fields("a group of clusters", {
  name: label("group name"),
  // A ManagedCluster's name is also its namespace on the hub, so it is a DNS label.
  clusters: list("ManagedCluster names", label("cluster name")).default([]),
  selector: labelSelector("ManagedClusters selected by label").optional(),
  canaries: list("clusters upgraded first, one per batch", label("cluster name")).default([]),
  stage: oneOf("the stage this group should reach now", DESIRED_STAGES).default("Idle"),
  abortOnFailure: bool(
    "ibgu flavour: move clusters whose Prep or Upgrade failed back to Idle",
  ).default(false),
  // TALM's CRD: at most 6 plan items of at most 4 actions each.
  plan: list(
    "ibgu flavour: explicit plan items, each a list of TALM actions",
    list("one plan item: up to 4 actions", oneOf("a TALM action", IBGU_ACTIONS), {
      min: 1,
      max: 4,
    }),
    { min: 1, max: 6 },
  ).optional(),
});

/** The ibu-gitops ACM addon (spoke agent and hub controller), installed from this fleet's output. */
const addon = fields("the ibu-gitops ACM addon: spoke agent and hub controller", {
  image: str("image of the agent and the hub controller", { check: imageRef }),
  // The AddOnDeploymentConfig's agentInstallNamespace.
  installNamespace: label("spoke namespace of the agent").default(
    "open-cluster-management-agent-addon",
  ),
  // Also the namespace of the AddOnDeploymentConfig and of the addon's Placement.
  hubNamespace: label("hub namespace of the hub controller and the addon configuration").default(
    "ibu-gitops",
  ),
  clusterSelector: labelSelector(
    "clusters the addon is installed on (default: the fleet's clusterSelector)",
  ).optional(),
  maxConcurrency: str("clusters that get a new agent version at once: a count or a percentage", {
    // OCM's pattern is ^((100|[0-9]{1,2})%|[0-9]+)$; zero (however written) would never
    // roll out, and leading zeros read differently elsewhere.
    check: v =>
      /^([1-9][0-9]?%|100%|[1-9][0-9]{0,8})$/.test(v)
        ? undefined
        : `${show(v)} is not a count or a percentage such as "25%" (OCM's rollout strategy: 1 to 999999999, or 1% to 100%, no leading zeros)`,
  }).default("25%"),
  hubReplicas: int("hub controller replicas (leader election)", { min: 1 }).default(2),
  // The broad ClusterRole that applying LCA extra manifests needs.
  extraManifests: bool(
    "grant the agent the broad rights applying LCA extra manifests needs",
  ).default(true),
});

export const FLEET_SPEC_SCHEMA = fields("the fleet and its upgrade", {
  hub: fields("hub namespaces", {
    policyNamespace: label("namespace of Policies, Placements and the hub OADP ConfigMap").default(
      "ztp-group",
    ),
    upgradeNamespace: label(
      "namespace of ClusterGroupUpgrades or the ImageBasedGroupUpgrade",
    ).default("default"),
    // A Namespace object each, and for the policy namespace its ManagedClusterSetBinding
    // `global`. The others must exist, owned by someone else (ZTP's policies app owns
    // ztp-group). docs/decisions.md.
    ownedNamespaces: list(
      "hub namespaces this fleet's Argo CD Application creates and owns",
      label("namespace"),
    ).default([]),
  }).prefault({}),
  flavour: oneOf(
    "cgu (ZTP policies stepped by ClusterGroupUpgrades) or ibgu (one ImageBasedGroupUpgrade per group)",
    ["cgu", "ibgu"],
  ).default("cgu"),
  policyName: label("prefix of the stage policies, like PolicyGenerator's metadata.name").default(
    "group-ibu",
  ),
  clusterSelector: labelSelector(
    "clusters the stage policies are placed on (ZTP: group-du-sno)",
  ).optional(),
  seedImage: fields("the seed image to upgrade to", {
    image: str("seed image pull spec", { check: imageRef }),
    version: str("OpenShift version of the seed", { check: seedVersion }),
    pullSecretRef: fields("Secret with the seed pull secret, by name (never its content)", {
      name: name("Secret name"),
    }).optional(),
  }),
  oadp: fields("OADP Backup/Restore content", {
    configMap: configMapRef({ name: "oadp-cm", namespace: "openshift-adp" }),
    content: list(
      "Backup/Restore pairs: {template: platform|lvms} or {file: path}",
      fields("one entry: template or file", {
        // A bundled Backup/Restore pair: platform (ACM klusterlet) or lvms.
        template: oneOf("bundled pair", ["platform", "lvms"]).optional(),
        file: str("a file of Backup/Restore CRs, relative to the fleet file").optional(),
      }),
    ).default([{ template: "platform" }]),
  }).prefault({}),
  extraManifests: list("extra-manifest ConfigMaps on the spoke", requiredConfigMapRef).default([]),
  catalogSources: list(
    "custom CatalogSources to keep after the upgrade",
    fields("a CatalogSource", {
      name: name("CatalogSource name"),
      namespace: label("CatalogSource namespace").default("openshift-marketplace"),
      image: str("index image", { check: imageRef }),
      displayName: str("display name").optional(),
      publisher: str("publisher").optional(),
    }),
  ).default([]),
  autoRollback: fields("LCA automatic rollback", {
    initMonitorTimeoutSeconds: int("LCA init-monitor timeout", { min: 0 }).default(1800),
    onInitMonitorTimeout: bool("roll back when the upgrade does not complete in time").default(
      true,
    ),
    onPostRebootConfigFailure: bool("roll back when post-pivot configuration fails").default(true),
    onUpgradeFailure: bool("roll back on a terminal post-pivot failure").default(true),
  }).prefault({}),
  imageCleanup: fields("container image cleanup during Prep", {
    onPrep: bool("clean up unused images when disk usage is above the threshold").default(true),
    diskUsageThresholdPercent: int("threshold", { min: 1, max: 100 }).default(50),
  }).prefault({}),
  // Keys must contain lca.openshift.io (rules.ts).
  ibuAnnotations: mapping(
    "annotations for the generated ImageBasedUpgrade (e.g. lca.openshift.io/target-ocp-version-manifest-count)",
    str("annotation value"),
  ).optional(),
  // Like PolicyGenerator's policyDefaults.
  policyDefaults: fields(
    "severity and evaluation interval of the generated policies (PolicyGenerator's policyDefaults)",
    {
      severity: oneOf("policy severity", ["low", "medium", "high", "critical"]).default("low"),
      evaluationInterval: fields("how often the ConfigurationPolicy is evaluated", {
        compliant: str("interval while compliant, e.g. 10s, 5m, or never", {
          check: interval,
        }).default("10s"),
        noncompliant: str("interval while noncompliant, e.g. 10s, 5m, or never", {
          check: interval,
        }).default("10s"),
      }).prefault({}),
    },
  ).prefault({}),
  groups: list("cluster groups, upgraded in order", group, { min: 1 }),
  rollout: fields("per-stage batch sizes and timeouts", {
    prep: stepRollout(50, 240),
    upgrade: stepRollout(50, 240),
    finalize: stepRollout(100, 60),
    rollback: stepRollout(50, 240),
    abort: stepRollout(100, 60),
    batchTimeoutAction: oneOf("what TALM does when a batch times out", [
      "Continue",
      "Abort",
    ]).default("Continue"),
  }).prefault({}),
  argocd: fields("the Argo CD Application that syncs the output", {
    namespace: label("Argo CD namespace").default("openshift-gitops"),
    // Absent: one project per fleet, named like its Application.
    project: label(
      "AppProject name (default: one per fleet, named like its Application)",
    ).optional(),
    repoURL: str("Git repository of the output", { check: notEmpty }).default(
      "https://git.example.com/fleet.git",
    ),
    targetRevision: str("branch or tag", { check: notEmpty }).default("main"),
    path: str("folder of the output in the repository", { check: repoPath }).default("policies"),
  }).prefault({}),
  addon: addon.optional(),
});

/**
 * metadata.name: an object name, and short enough that the Argo CD Application named after it
 * (and used as Argo CD's tracking label value) stays within 253 characters.
 */
const fleetName: Check = v => {
  const msg = dnsSubdomain(v);
  if (msg) return msg;
  const app = applicationName(v);
  return app.length > 253
    ? `is ${v.length} characters: the Argo CD Application ${clip(app)} would be ${app.length} characters; at most 253 (shorten the fleet's name to ${253 - (app.length - v.length)})`
    : undefined;
};

/** labels: Kubernetes' label key and value rules; annotations: its key rule. */
const labelValue: Check = v => labelValueProblem(v);

/** A fleet file: the whole document, as editors see it through the JSON Schema. */
export const FLEET_SCHEMA = fields(
  "an ibu-gitops fleet file: the clusters and the image-based upgrade to step them through",
  {
    apiVersion: z.literal(FLEET_API_VERSION).describe("the fleet file's API version"),
    kind: z.literal(FLEET_KIND).describe("the fleet file's kind"),
    metadata: fields("the fleet's name, labels and annotations", {
      name: str("the fleet's name", { check: fleetName }),
      labels: mapping(
        "labels",
        str("label value", { check: labelValue }),
        labelKeyProblem,
      ).optional(),
      annotations: mapping("annotations", str("annotation value"), labelKeyProblem).optional(),
    }),
    spec: FLEET_SPEC_SCHEMA,
  },
);

export type LabelSelector = z.output<ReturnType<typeof labelSelector>>;
export type ConfigMapRef = z.output<typeof requiredConfigMapRef>;
export type StepRollout = z.output<ReturnType<typeof stepRollout>>;
export type Group = z.output<typeof group>;
export type AddonSpec = z.output<typeof addon>;
export type FleetSpec = z.output<typeof FLEET_SPEC_SCHEMA>;
export type OadpContentEntry = FleetSpec["oadp"]["content"][number];

export interface Fleet extends Omit<z.output<typeof FLEET_SCHEMA>, "metadata"> {
  readonly metadata: { readonly name: string };
  /** Folder of the fleet file: user files (OADP content) are relative to it. */
  readonly baseDir: string;
  readonly file: string;
}

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
