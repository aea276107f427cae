// One small, valid object of every third-party kind the harness installs. Tests dry-run them
// to prove the CRDs are installed and served with their schemas; the CRD table test checks
// that no installed kind lacks a sample here.
import type { KubeObject } from "./cluster.js";

const NS = "ibu-samples";

export const THIRD_PARTY_SAMPLES: readonly KubeObject[] = [
  // Kinds the real hub stack's controllers watch (src/sandbox/hubstack.ts).
  {
    apiVersion: "cluster.open-cluster-management.io/v1alpha1",
    kind: "ClusterClaim",
    metadata: { name: "id.k8s.io" },
    spec: { value: "sno-1" },
  },
  {
    apiVersion: "cluster.open-cluster-management.io/v1alpha1",
    kind: "AddOnPlacementScore",
    metadata: { name: "ibu-score", namespace: NS },
  },
  {
    apiVersion: "work.open-cluster-management.io/v1",
    kind: "AppliedManifestWork",
    metadata: { name: "hub-hash-ibu-gitops" },
    spec: { hubHash: "hub-hash", manifestWorkName: "ibu-gitops" },
  },
  {
    apiVersion: "policy.open-cluster-management.io/v1beta1",
    kind: "PolicyAutomation",
    metadata: { name: "ibu-automation", namespace: NS },
    spec: {
      policyRef: "group-ibu-prep-stage-policy",
      mode: "disabled",
      automationDef: { name: "ibu-job", secret: "aap-credential" },
    },
  },
  {
    apiVersion: "apps.open-cluster-management.io/v1",
    kind: "PlacementRule",
    metadata: { name: "ibu-batch", namespace: NS },
    spec: { clusterSelector: { matchLabels: { "group-du-sno": "" } } },
  },
  {
    apiVersion: "view.open-cluster-management.io/v1beta1",
    kind: "ManagedClusterView",
    metadata: { name: "ibu-view", namespace: NS },
    spec: { scope: { resource: "configmaps", name: "oadp-cm", namespace: "openshift-adp" } },
  },
  {
    apiVersion: "action.open-cluster-management.io/v1beta1",
    kind: "ManagedClusterAction",
    metadata: { name: "ibu-action", namespace: NS },
    spec: {
      actionType: "Delete",
      kube: { resource: "configmap", name: "oadp-cm", namespace: "openshift-adp" },
    },
  },
  {
    apiVersion: "policy.open-cluster-management.io/v1beta1",
    kind: "OperatorPolicy",
    metadata: { name: "ibu-operator", namespace: NS },
    spec: {
      remediationAction: "inform",
      complianceType: "musthave",
      subscription: { name: "lifecycle-agent", namespace: "openshift-lifecycle-agent" },
      upgradeApproval: "None",
    },
  },
  {
    apiVersion: "cluster.open-cluster-management.io/v1",
    kind: "ManagedCluster",
    metadata: { name: "sno-1", labels: { "group-du-sno": "" } },
    spec: { hubAcceptsClient: true, leaseDurationSeconds: 60 },
  },
  {
    apiVersion: "cluster.open-cluster-management.io/v1beta2",
    kind: "ManagedClusterSet",
    metadata: { name: "sno-fleet" },
    spec: { clusterSelector: { selectorType: "ExclusiveClusterSetLabel" } },
  },
  {
    apiVersion: "cluster.open-cluster-management.io/v1beta2",
    kind: "ManagedClusterSetBinding",
    metadata: { name: "sno-fleet", namespace: NS },
    spec: { clusterSet: "sno-fleet" },
  },
  {
    apiVersion: "cluster.open-cluster-management.io/v1beta1",
    kind: "Placement",
    metadata: { name: "group-du-sno", namespace: NS },
    spec: {
      predicates: [
        { requiredClusterSelector: { labelSelector: { matchLabels: { "group-du-sno": "" } } } },
      ],
      tolerations: [{ key: "cluster.open-cluster-management.io/unreachable", operator: "Exists" }],
    },
  },
  {
    apiVersion: "cluster.open-cluster-management.io/v1beta1",
    kind: "PlacementDecision",
    metadata: {
      name: "group-du-sno-decision-1",
      namespace: NS,
      labels: { "cluster.open-cluster-management.io/placement": "group-du-sno" },
    },
  },
  {
    apiVersion: "addon.open-cluster-management.io/v1alpha1",
    kind: "ClusterManagementAddOn",
    metadata: { name: "ibu-gitops" },
    spec: {
      addOnMeta: { displayName: "ibu-gitops" },
      supportedConfigs: [
        {
          group: "addon.open-cluster-management.io",
          resource: "addontemplates",
          defaultConfig: { name: "ibu-gitops-0.1.0" },
        },
      ],
      installStrategy: { type: "Manual" },
    },
  },
  {
    apiVersion: "addon.open-cluster-management.io/v1alpha1",
    kind: "ManagedClusterAddOn",
    metadata: { name: "ibu-gitops", namespace: NS },
    spec: {},
  },
  {
    apiVersion: "addon.open-cluster-management.io/v1alpha1",
    kind: "AddOnTemplate",
    metadata: { name: "ibu-gitops-0.1.0" },
    spec: {
      addonName: "ibu-gitops",
      agentSpec: {
        workload: {
          manifests: [
            {
              apiVersion: "v1",
              kind: "ServiceAccount",
              metadata: { name: "agent", namespace: "ibu" },
            },
          ],
        },
      },
      registration: [
        {
          type: "KubeClient",
          kubeClient: {
            hubPermissions: [
              { type: "CurrentCluster", currentCluster: { clusterRoleName: "ibu-gitops-agent" } },
            ],
          },
        },
      ],
    },
  },
  {
    apiVersion: "addon.open-cluster-management.io/v1alpha1",
    kind: "AddOnDeploymentConfig",
    metadata: { name: "ibu-gitops", namespace: NS },
    spec: { customizedVariables: [{ name: "LOG_LEVEL", value: "info" }] },
  },
  {
    apiVersion: "work.open-cluster-management.io/v1",
    kind: "ManifestWork",
    metadata: { name: "ibu", namespace: NS },
    spec: {
      workload: { manifests: [{ apiVersion: "v1", kind: "Namespace", metadata: { name: "ibu" } }] },
    },
  },
  {
    apiVersion: "work.open-cluster-management.io/v1alpha1",
    kind: "ManifestWorkReplicaSet",
    metadata: { name: "ibu", namespace: NS },
    spec: {
      placementRefs: [{ name: "group-du-sno" }],
      manifestWorkTemplate: {
        workload: {
          manifests: [{ apiVersion: "v1", kind: "Namespace", metadata: { name: "ibu" } }],
        },
      },
    },
  },
  {
    apiVersion: "policy.open-cluster-management.io/v1",
    kind: "Policy",
    metadata: { name: "group-ibu-prep-stage-policy", namespace: NS },
    spec: {
      disabled: false,
      remediationAction: "inform",
      "policy-templates": [
        {
          objectDefinition: {
            apiVersion: "policy.open-cluster-management.io/v1",
            kind: "ConfigurationPolicy",
            metadata: { name: "group-ibu-prep-stage-policy-config" },
            spec: { remediationAction: "inform", severity: "low", "object-templates": [] },
          },
        },
      ],
    },
  },
  {
    apiVersion: "policy.open-cluster-management.io/v1",
    kind: "PlacementBinding",
    metadata: { name: "group-ibu-placement-binding", namespace: NS },
    placementRef: {
      apiGroup: "cluster.open-cluster-management.io",
      kind: "Placement",
      name: "group-du-sno",
    },
    subjects: [
      {
        apiGroup: "policy.open-cluster-management.io",
        kind: "Policy",
        name: "group-ibu-prep-stage-policy",
      },
    ],
  },
  {
    apiVersion: "policy.open-cluster-management.io/v1beta1",
    kind: "PolicySet",
    metadata: { name: "group-ibu", namespace: NS },
    spec: { description: "IBU stage policies", policies: ["group-ibu-prep-stage-policy"] },
  },
  {
    apiVersion: "policy.open-cluster-management.io/v1",
    kind: "ConfigurationPolicy",
    metadata: { name: "ibu-idle", namespace: NS },
    spec: {
      remediationAction: "inform",
      severity: "low",
      evaluationInterval: { compliant: "10s", noncompliant: "10s" },
      "object-templates": [
        {
          complianceType: "musthave",
          objectDefinition: {
            apiVersion: "lca.openshift.io/v1",
            kind: "ImageBasedUpgrade",
            metadata: { name: "upgrade" },
            spec: { stage: "Idle" },
          },
        },
      ],
    },
  },
  {
    apiVersion: "ran.openshift.io/v1alpha1",
    kind: "ClusterGroupUpgrade",
    metadata: { name: "cgu-ibu-prep", namespace: NS },
    spec: {
      clusters: ["sno-1"],
      managedPolicies: ["group-ibu-oadp-cm-policy", "group-ibu-prep-stage-policy"],
      remediationStrategy: { maxConcurrency: 1, timeout: 240 },
      enable: true,
    },
  },
  {
    apiVersion: "lcm.openshift.io/v1alpha1",
    kind: "ImageBasedGroupUpgrade",
    metadata: { name: "upgrade-4-18-1", namespace: NS },
    spec: {
      clusterLabelSelectors: [{ matchLabels: { "group-du-sno": "" } }],
      ibuSpec: { seedImageRef: { image: "registry.example.com/seed:4.18.1", version: "4.18.1" } },
      plan: [{ actions: ["Prep"], rolloutStrategy: { maxConcurrency: 2, timeout: 2400 } }],
    },
  },
  {
    apiVersion: "ran.openshift.io/v1alpha1",
    kind: "PreCachingConfig",
    metadata: { name: "precache", namespace: NS },
    spec: { spaceRequired: "35 GiB", excludePrecachePatterns: ["aws"] },
  },
  {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "Application",
    metadata: { name: "ibu-policies", namespace: NS },
    spec: {
      project: "ibu-policies",
      source: {
        repoURL: "https://git.example.com/fleet.git",
        path: "policies",
        targetRevision: "main",
      },
      destination: { server: "https://kubernetes.default.svc", namespace: "ztp-group" },
    },
  },
  {
    apiVersion: "argoproj.io/v1alpha1",
    kind: "AppProject",
    metadata: { name: "ibu-policies", namespace: NS },
    spec: {
      sourceRepos: ["*"],
      destinations: [{ server: "https://kubernetes.default.svc", namespace: "ztp*" }],
      namespaceResourceWhitelist: [{ group: "policy.open-cluster-management.io", kind: "Policy" }],
    },
  },
  {
    apiVersion: "lca.openshift.io/v1",
    kind: "ImageBasedUpgrade",
    metadata: { name: "upgrade" },
    spec: {
      stage: "Idle",
      seedImageRef: { image: "registry.example.com/seed:4.18.1", version: "4.18.1" },
    },
  },
  {
    apiVersion: "velero.io/v1",
    kind: "Backup",
    metadata: {
      name: "acm-klusterlet",
      namespace: NS,
      annotations: { "lca.openshift.io/apply-wave": "1" },
    },
    spec: {
      includedNamespaces: ["open-cluster-management-agent"],
      includedClusterScopedResources: ["klusterlets.operator.open-cluster-management.io"],
    },
  },
  {
    apiVersion: "velero.io/v1",
    kind: "Restore",
    metadata: {
      name: "acm-klusterlet",
      namespace: NS,
      annotations: { "lca.openshift.io/apply-wave": "1" },
    },
    spec: { backupName: "acm-klusterlet" },
  },
  {
    apiVersion: "velero.io/v1",
    kind: "DeleteBackupRequest",
    metadata: { name: "acm-klusterlet-delete", namespace: NS },
    spec: { backupName: "acm-klusterlet" },
  },
  {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "ServiceMonitor",
    metadata: { name: "ibu-gitops-hub", namespace: NS },
    spec: {
      selector: { matchLabels: { "app.kubernetes.io/name": "ibu-gitops-hub" } },
      endpoints: [{ port: "https", scheme: "https", path: "/metrics", interval: "30s" }],
    },
  },
];

export const SAMPLES_NAMESPACE = NS;
