// The ibu-gitops ACM addon, as a template-type addon (docs/addon.md): OCM's addon-manager does
// the CSR approval, the hub RBAC binding, the ManifestWork and the health check; we emit
//   - on the hub: our hub CRD, the agent's hub ClusterRole (bound per cluster namespace by the
//     addon-manager), the ClusterRole that lets the addon-manager bind it, an admission policy
//     that keeps each agent to its own cluster namespace, the hub controller (RBAC, Deployment,
//     Service), and the ClusterManagementAddOn with its AddOnTemplate, AddOnDeploymentConfig
//     and Placement;
//   - inside the AddOnTemplate, for each spoke: the install Namespace, the agent's
//     ServiceAccount, its spoke RBAC, our ImageBasedUpgrade CRD and the agent Deployment.
// Everything goes under addon/ in the fleet's output folder, with Argo CD sync waves that put
// the CRDs and RBAC before the configuration and the ClusterManagementAddOn last.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Construct } from "constructs";
import { parseAllDocuments, stringify } from "yaml";
import type { AddonSpec, LabelSelector } from "../fleet/model.js";
import { packageRoot } from "../package-root.js";
import type { KubeObject } from "../render/templates.js";
import {
  ALLOWLIST_CONFIGMAP,
  DASHBOARD_CONFIGMAP,
  DASHBOARD_FOLDER,
  DASHBOARD_KEY,
  OBSERVABILITY_NAMESPACE,
  grafanaDashboard,
  metricsAllowlist,
} from "./grafana.js";
import { emit, SyncWave } from "./output.js";
import { clusterSetBinding } from "./stage-policies.js";

export const ADDON_NAME = "ibu-gitops";
/** The agent's ServiceAccount and Deployment on the spoke; OCM names the agent `<addon>-agent`. */
export const AGENT_NAME = `${ADDON_NAME}-agent`;
export const AGENT_SPOKE_ROLE = AGENT_NAME;
const HUB_TLS_SECRET = "ibu-gitops-hub-tls";
const HUB_TLS_MOUNT = "/var/run/ibu-gitops/tls";
export const AGENT_EXTRA_MANIFESTS_ROLE = `${AGENT_NAME}-extra-manifests`;
export const AGENT_OADP_ROLE = `${AGENT_NAME}-oadp`;
export const AGENT_HUB_ROLE = `${AGENT_NAME}-hub`;
export const ADDON_MANAGER_ROLE = `${ADDON_NAME}-addon-manager`;
export const HUB_NAME = `${ADDON_NAME}-hub`;
export const ADDON_POLICY = `${ADDON_NAME}-agent-own-cluster`;
/** OCM's addon-manager, which creates the agent's RoleBinding in each cluster namespace. */
export const ADDON_MANAGER_SA = {
  namespace: "open-cluster-management-hub",
  name: "addon-manager-controller-sa",
} as const;
export const INSTALLED_ON = "ibu-gitops.dev/installed-on";
const ADDON_GROUP = "addon.open-cluster-management.io";
const RBAC_GROUP = "rbac.authorization.k8s.io";
const DIR = "addon";

/** Files under the fleet's output folder. */
export const ADDON_FILES = {
  namespace: `${DIR}/namespace.yaml`,
  crds: `${DIR}/crds.yaml`,
  rbac: `${DIR}/rbac.yaml`,
  hub: `${DIR}/hub-controller.yaml`,
  addon: `${DIR}/addon.yaml`,
  observability: `${DIR}/observability.yaml`,
} as const;

/**
 * Argo CD sync waves of the addon: its namespace with the fleet's namespaces, then CRDs, then
 * RBAC (the addon-manager can bind the agent's hub role only once it exists), then the addon
 * configuration, then the ClusterManagementAddOn, so that what it names (template, deployment
 * config, Placement) exists when the addon-manager reads it. The hub controller's Deployment
 * has a health Argo CD waits for, so it is in the last wave (SyncWave.assessed): one that is
 * still rolling out must not hold back anything after it.
 */
export const AddonWave = {
  namespace: SyncWave.namespaces,
  crds: SyncWave.namespaces + 5,
  rbac: SyncWave.config,
  config: SyncWave.placement,
  clusterManagementAddOn: SyncWave.placement + 5,
  hub: SyncWave.assessed,
  /** The Grafana dashboard and metrics allowlist ConfigMaps: configuration, like the hub's. */
  observability: SyncWave.config,
} as const;

/** Kinds the addon adds to the output, for the AppProject's whitelist. */
export const ADDON_KINDS: ReadonlyArray<{ group: string; kind: string; clusterScoped?: boolean }> =
  [
    { group: "apiextensions.k8s.io", kind: "CustomResourceDefinition", clusterScoped: true },
    { group: RBAC_GROUP, kind: "ClusterRole", clusterScoped: true },
    { group: RBAC_GROUP, kind: "ClusterRoleBinding", clusterScoped: true },
    {
      group: "admissionregistration.k8s.io",
      kind: "ValidatingAdmissionPolicy",
      clusterScoped: true,
    },
    {
      group: "admissionregistration.k8s.io",
      kind: "ValidatingAdmissionPolicyBinding",
      clusterScoped: true,
    },
    { group: ADDON_GROUP, kind: "ClusterManagementAddOn", clusterScoped: true },
    { group: ADDON_GROUP, kind: "AddOnTemplate", clusterScoped: true },
    { group: ADDON_GROUP, kind: "AddOnDeploymentConfig" },
    { group: RBAC_GROUP, kind: "Role" },
    { group: RBAC_GROUP, kind: "RoleBinding" },
    { group: "", kind: "ServiceAccount" },
    { group: "", kind: "Service" },
    { group: "apps", kind: "Deployment" },
    { group: "monitoring.coreos.com", kind: "ServiceMonitor" },
  ];

/** The identity OCM gives a cluster's agent on the hub (acm.md §6.5; addon-framework). */
export function agentIdentity(cluster: string): { user: string; groups: string[] } {
  return {
    user: `system:open-cluster-management:cluster:${cluster}:addon:${ADDON_NAME}:agent:${AGENT_NAME}`,
    groups: [
      `system:open-cluster-management:cluster:${cluster}:addon:${ADDON_NAME}`,
      `system:open-cluster-management:addon:${ADDON_NAME}`,
      "system:authenticated",
    ],
  };
}

/** The RoleBinding the addon-manager creates in each cluster namespace for `CurrentCluster`. */
export const AGENT_HUB_ROLEBINDING = `open-cluster-management:${ADDON_NAME}:clusterrole:agent`;

/**
 * The AddOnTemplate's name: `ibu-gitops-<image tag>` (a digest: its first 12 hex digits), so a
 * new image is a new template, and the ClusterManagementAddOn's changed default config is what
 * makes OCM roll the agent out (progressively) to the clusters.
 */
export function addonTemplateName(image: string): string {
  const at = image.indexOf("@");
  let version: string;
  if (at >= 0)
    version = image
      .slice(at + 1)
      .replace(/^[a-z0-9]+:/, "")
      .slice(0, 12);
  else {
    const lastSegment = image.slice(image.lastIndexOf("/") + 1);
    const colon = lastSegment.lastIndexOf(":");
    version = colon >= 0 ? lastSegment.slice(colon + 1) : "latest";
  }
  const slug = version
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
  return `${ADDON_NAME}-${slug || "latest"}`;
}

export interface Crd extends KubeObject {
  metadata: { name: string; annotations?: Record<string, string> };
}

/** The project's CRDs (addon/crds/*.yaml, in file order) that go on `where`. */
export function ownCrds(where: "hub" | "spoke", dir = join(packageRoot(), "addon", "crds")): Crd[] {
  const files = readdirSync(dir)
    .filter(f => f.endsWith(".yaml"))
    .sort();
  return files.flatMap(f =>
    parseAllDocuments(readFileSync(join(dir, f), "utf8"))
      .map(d => d.toJS() as Crd | null)
      .filter((c): c is Crd => c?.kind === "CustomResourceDefinition")
      .filter(c =>
        (c.metadata.annotations?.[INSTALLED_ON] ?? "hub,spoke")
          .split(",")
          .map(s => s.trim())
          .includes(where),
      ),
  );
}

export interface IbuAddonProps {
  readonly addon: AddonSpec;
  /** ORed label selectors of the clusters that get the agent. */
  readonly selectors: readonly LabelSelector[];
  /** Where our CRDs are read from. @default <package>/addon/crds */
  readonly crdDir?: string;
}

type Rule = {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
};

const labels = (name: string): Record<string, string> => ({
  "app.kubernetes.io/name": name,
  "app.kubernetes.io/part-of": ADDON_NAME,
});

export class IbuAddon extends Construct {
  private readonly addon: AddonSpec;

  constructor(scope: Construct, id: string, props: IbuAddonProps) {
    super(scope, id);
    this.addon = props.addon;
    const crdDir = props.crdDir;
    emit(
      this,
      "Namespace",
      {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
          name: this.addon.hubNamespace,
          // OpenShift's platform Prometheus scrapes ServiceMonitors only in namespaces so
          // labelled; from there ACM observability collects the allow-listed metrics.
          labels: { ...labels(ADDON_NAME), "openshift.io/cluster-monitoring": "true" },
        },
      },
      { file: ADDON_FILES.namespace, wave: AddonWave.namespace },
    );
    for (const crd of ownCrds("hub", crdDir)) {
      emit(this, `Crd-${crd.metadata.name}`, crd, {
        file: ADDON_FILES.crds,
        wave: AddonWave.crds,
      });
    }
    this.agentHubRbac();
    this.hubController();
    this.addonObjects(props.selectors, ownCrds("spoke", crdDir));
    this.observability();
  }

  /**
   * ACM observability (docs/dashboard.md): the Grafana dashboard ConfigMap its loader picks up,
   * and the allowlist that lets the hub's series through. Their namespace is ACM's; it is
   * emitted so the sync does not fail on a hub without observability, and Argo CD never prunes
   * or deletes it (it holds observability's own objects).
   */
  private observability(): void {
    const opts = { file: ADDON_FILES.observability, wave: AddonWave.observability };
    emit(
      this,
      "ObservabilityNamespace",
      {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: {
          name: OBSERVABILITY_NAMESPACE,
          annotations: { "argocd.argoproj.io/sync-options": "Prune=false,Delete=false" },
        },
      },
      { file: ADDON_FILES.observability, wave: AddonWave.namespace },
    );
    emit(
      this,
      "GrafanaDashboard",
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: DASHBOARD_CONFIGMAP,
          namespace: OBSERVABILITY_NAMESPACE,
          labels: { ...labels(DASHBOARD_CONFIGMAP), "grafana-custom-dashboard": "true" },
          annotations: {
            "observability.open-cluster-management.io/dashboard-folder": DASHBOARD_FOLDER,
          },
        },
        data: { [DASHBOARD_KEY]: `${JSON.stringify(grafanaDashboard(), null, 2)}\n` },
      },
      opts,
    );
    emit(
      this,
      "MetricsAllowlist",
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: ALLOWLIST_CONFIGMAP,
          namespace: OBSERVABILITY_NAMESPACE,
          labels: labels(ALLOWLIST_CONFIGMAP),
        },
        data: { "metrics_list.yaml": stringify(metricsAllowlist()) },
      },
      opts,
    );
  }

  private rbac(id: string, body: KubeObject): void {
    emit(this, id, body, { file: ADDON_FILES.rbac, wave: AddonWave.rbac });
  }

  private clusterRole(id: string, name: string, rules: Rule[], comment?: string): void {
    this.rbac(id, {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: "ClusterRole",
      metadata: {
        name,
        labels: labels(name),
        ...(comment ? { annotations: { "ibu-gitops.dev/why": comment } } : {}),
      },
      rules,
    });
  }

  /**
   * What a cluster's agent may do on the hub. The addon-manager binds this ClusterRole with a
   * RoleBinding in the cluster's own namespace only (hubPermissions: CurrentCluster), so the
   * agent's rights stop at that namespace: its report and its ManagedClusterAddOn's status.
   */
  private agentHubRbac(): void {
    this.clusterRole(
      "AgentHubRole",
      AGENT_HUB_ROLE,
      [
        // The report: created once, then updated. RBAC cannot name the object of a create.
        { apiGroups: ["ibu-gitops.dev"], resources: ["clusterupgrades"], verbs: ["create"] },
        {
          apiGroups: ["ibu-gitops.dev"],
          resources: ["clusterupgrades"],
          verbs: ["get", "update", "patch"],
          resourceNames: ["upgrade"],
        },
        // Our own condition on our own ManagedClusterAddOn (not the other addons' there).
        {
          apiGroups: [ADDON_GROUP],
          resources: ["managedclusteraddons"],
          verbs: ["get"],
          resourceNames: [ADDON_NAME],
        },
        {
          apiGroups: [ADDON_GROUP],
          resources: ["managedclusteraddons/status"],
          verbs: ["get", "patch", "update"],
          resourceNames: [ADDON_NAME],
        },
      ],
      "bound by OCM's addon-manager in each cluster namespace (hubPermissions CurrentCluster)",
    );
    // The addon-manager must be allowed to bind the role (RBAC's escalation check): acm.md §6.5.
    this.clusterRole("AddonManagerRole", ADDON_MANAGER_ROLE, [
      {
        apiGroups: [RBAC_GROUP],
        resources: ["clusterroles"],
        verbs: ["bind", "escalate"],
        resourceNames: [AGENT_HUB_ROLE],
      },
    ]);
    this.rbac("AddonManagerBinding", {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: "ClusterRoleBinding",
      metadata: { name: ADDON_MANAGER_ROLE, labels: labels(ADDON_MANAGER_ROLE) },
      roleRef: { apiGroup: RBAC_GROUP, kind: "ClusterRole", name: ADDON_MANAGER_ROLE },
      subjects: [{ kind: "ServiceAccount", ...ADDON_MANAGER_SA }],
    });
    // OCM binds the role to the agent's user *and* to the group every cluster's ibu-gitops
    // agent is in (system:open-cluster-management:addon:ibu-gitops), so RBAC alone would let
    // one cluster's agent write another cluster's report. This policy closes that: a request
    // from an ibu-gitops agent must come from the agent of the namespace's own cluster.
    const agentGroup = `system:open-cluster-management:addon:${ADDON_NAME}`;
    this.rbac("AgentPolicy", {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: ADDON_POLICY, labels: labels(ADDON_POLICY) },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ["ibu-gitops.dev"],
              apiVersions: ["*"],
              operations: ["CREATE", "UPDATE", "DELETE"],
              resources: ["clusterupgrades"],
            },
            {
              apiGroups: [ADDON_GROUP],
              apiVersions: ["*"],
              operations: ["CREATE", "UPDATE", "DELETE"],
              resources: ["managedclusteraddons", "managedclusteraddons/status"],
            },
          ],
        },
        matchConditions: [
          {
            name: "from-an-ibu-gitops-agent",
            expression: `'${agentGroup}' in request.userInfo.groups`,
          },
        ],
        validations: [
          {
            expression: `('system:open-cluster-management:cluster:' + request.namespace + ':addon:${ADDON_NAME}') in request.userInfo.groups`,
            messageExpression: `'an ibu-gitops agent may write only in its own cluster namespace, not in ' + request.namespace`,
            reason: "Forbidden",
          },
        ],
      },
    });
    this.rbac("AgentPolicyBinding", {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: ADDON_POLICY, labels: labels(ADDON_POLICY) },
      spec: { policyName: ADDON_POLICY, validationActions: ["Deny"] },
    });
  }

  /** The hub controller: reads reports, owns the auto-import annotation, serves the dashboard. */
  private hubController(): void {
    const ns = this.addon.hubNamespace;
    const sa = { kind: "ServiceAccount", name: HUB_NAME, namespace: ns };
    this.rbac("HubServiceAccount", {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: HUB_NAME, namespace: ns, labels: labels(HUB_NAME) },
    });
    this.clusterRole("HubRole", HUB_NAME, [
      // Every cluster's report.
      {
        apiGroups: ["ibu-gitops.dev"],
        resources: ["clusterupgrades"],
        verbs: ["get", "list", "watch"],
      },
      // The disable-auto-import annotation.
      {
        apiGroups: ["cluster.open-cluster-management.io"],
        resources: ["managedclusters"],
        verbs: ["get", "list", "watch", "patch"],
      },
      // An Event for every annotation change.
      { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
      // The dashboard's authentication and authorization of its callers.
      { apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"] },
      {
        apiGroups: ["authorization.k8s.io"],
        resources: ["subjectaccessreviews"],
        verbs: ["create"],
      },
      // TALM's view of the rollout, for the dashboard: read only.
      {
        apiGroups: ["ran.openshift.io"],
        resources: ["clustergroupupgrades"],
        verbs: ["get", "list", "watch"],
      },
      {
        apiGroups: ["lcm.openshift.io"],
        resources: ["imagebasedgroupupgrades"],
        verbs: ["get", "list", "watch"],
      },
    ]);
    this.rbac("HubBinding", {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: "ClusterRoleBinding",
      metadata: { name: HUB_NAME, labels: labels(HUB_NAME) },
      roleRef: { apiGroup: RBAC_GROUP, kind: "ClusterRole", name: HUB_NAME },
      subjects: [sa],
    });
    // Leader election, in its own namespace only.
    const leader = `${HUB_NAME}-leader-election`;
    this.rbac("HubLeaderRole", {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: "Role",
      metadata: { name: leader, namespace: ns, labels: labels(HUB_NAME) },
      rules: [
        {
          apiGroups: ["coordination.k8s.io"],
          resources: ["leases"],
          verbs: ["get", "create", "update"],
        },
      ],
    });
    this.rbac("HubLeaderBinding", {
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: "RoleBinding",
      metadata: { name: leader, namespace: ns, labels: labels(HUB_NAME) },
      roleRef: { apiGroup: RBAC_GROUP, kind: "Role", name: leader },
      subjects: [sa],
    });
    const opts = { file: ADDON_FILES.hub, wave: AddonWave.hub };
    emit(
      this,
      "HubDeployment",
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: HUB_NAME, namespace: ns, labels: labels(HUB_NAME) },
        spec: {
          replicas: this.addon.hubReplicas,
          selector: { matchLabels: labels(HUB_NAME) },
          template: {
            metadata: { labels: labels(HUB_NAME) },
            spec: {
              serviceAccountName: HUB_NAME,
              securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
              containers: [
                {
                  name: "hub",
                  image: this.addon.image,
                  // More than one replica: only the Lease holder acts (`ibu-gitops hub` runs
                  // without leader election unless told).
                  // TLS from OpenShift's service CA (the Service asks for the certificate):
                  // tokens reach the API and the dashboard encrypted.
                  args: [
                    "hub",
                    "--listen=:8443",
                    "--leader-elect",
                    `--tls-cert=${HUB_TLS_MOUNT}/tls.crt`,
                    `--tls-key=${HUB_TLS_MOUNT}/tls.key`,
                  ],
                  env: [
                    {
                      name: "POD_NAMESPACE",
                      valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } },
                    },
                    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                  ],
                  ports: [{ name: "https", containerPort: 8443, protocol: "TCP" }],
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ["ALL"] },
                  },
                  resources: {
                    requests: { cpu: "10m", memory: "64Mi" },
                    limits: { memory: "256Mi" },
                  },
                  readinessProbe: {
                    httpGet: { path: "/readyz", port: "https", scheme: "HTTPS" },
                    periodSeconds: 10,
                  },
                  livenessProbe: {
                    httpGet: { path: "/healthz", port: "https", scheme: "HTTPS" },
                    periodSeconds: 20,
                  },
                  volumeMounts: [
                    { name: "tmp", mountPath: "/tmp" },
                    { name: "tls", mountPath: HUB_TLS_MOUNT, readOnly: true },
                  ],
                },
              ],
              volumes: [
                { name: "tmp", emptyDir: {} },
                { name: "tls", secret: { secretName: HUB_TLS_SECRET } },
              ],
            },
          },
        },
      },
      opts,
    );
    emit(
      this,
      "HubService",
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: HUB_NAME,
          namespace: ns,
          labels: labels(HUB_NAME),
          // OpenShift's service CA writes a serving certificate for the Service's DNS name
          // into this Secret (the hub mounts it); no key material is in Git.
          annotations: { "service.beta.openshift.io/serving-cert-secret-name": HUB_TLS_SECRET },
        },
        spec: {
          selector: labels(HUB_NAME),
          ports: [{ name: "https", port: 8443, targetPort: "https", protocol: "TCP" }],
        },
      },
      opts,
    );
    // Platform monitoring scrapes /metrics as prometheus-k8s, whose token the hub checks
    // (TokenReview, then SubjectAccessReview for the non-resource URL /metrics, which
    // OpenShift's prometheus-k8s role grants), over TLS verified with the service CA.
    emit(
      this,
      "HubServiceMonitor",
      {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { name: HUB_NAME, namespace: ns, labels: labels(HUB_NAME) },
        spec: {
          selector: { matchLabels: labels(HUB_NAME) },
          endpoints: [
            {
              port: "https",
              scheme: "https",
              path: "/metrics",
              interval: "30s",
              bearerTokenFile: "/var/run/secrets/kubernetes.io/serviceaccount/token",
              tlsConfig: {
                caFile: "/etc/prometheus/configmaps/serving-certs-ca-bundle/service-ca.crt",
                serverName: `${HUB_NAME}.${ns}.svc`,
              },
            },
          ],
        },
      },
      opts,
    );
    // What prometheus-k8s needs to find the hub's endpoints in this namespace, and no more.
    const discovery = `${HUB_NAME}-prometheus`;
    emit(
      this,
      "PrometheusRole",
      {
        apiVersion: `${RBAC_GROUP}/v1`,
        kind: "Role",
        metadata: { name: discovery, namespace: ns, labels: labels(HUB_NAME) },
        rules: [
          {
            apiGroups: [""],
            resources: ["services", "endpoints", "pods"],
            verbs: ["get", "list", "watch"],
          },
          {
            apiGroups: ["discovery.k8s.io"],
            resources: ["endpointslices"],
            verbs: ["get", "list", "watch"],
          },
        ],
      },
      { file: ADDON_FILES.rbac, wave: AddonWave.rbac },
    );
    emit(
      this,
      "PrometheusRoleBinding",
      {
        apiVersion: `${RBAC_GROUP}/v1`,
        kind: "RoleBinding",
        metadata: { name: discovery, namespace: ns, labels: labels(HUB_NAME) },
        roleRef: { apiGroup: RBAC_GROUP, kind: "Role", name: discovery },
        subjects: [
          { kind: "ServiceAccount", name: "prometheus-k8s", namespace: "openshift-monitoring" },
        ],
      },
      { file: ADDON_FILES.rbac, wave: AddonWave.rbac },
    );
  }

  private addonObjects(selectors: readonly LabelSelector[], spokeCrds: readonly Crd[]): void {
    const ns = this.addon.hubNamespace;
    const file = ADDON_FILES.addon;
    const config = { file, wave: AddonWave.config };
    const templateName = addonTemplateName(this.addon.image);
    emit(
      this,
      "DeploymentConfig",
      {
        apiVersion: `${ADDON_GROUP}/v1alpha1`,
        kind: "AddOnDeploymentConfig",
        metadata: { name: ADDON_NAME, namespace: ns },
        spec: {
          agentInstallNamespace: this.addon.installNamespace,
          customizedVariables: [{ name: "LOG_LEVEL", value: "info" }],
        },
      },
      config,
    );
    emit(
      this,
      "Template",
      {
        apiVersion: `${ADDON_GROUP}/v1alpha1`,
        kind: "AddOnTemplate",
        metadata: { name: templateName },
        spec: {
          addonName: ADDON_NAME,
          agentSpec: { workload: { manifests: this.spokeManifests(spokeCrds) } },
          registration: [
            {
              type: "KubeClient",
              kubeClient: {
                hubPermissions: [
                  { type: "CurrentCluster", currentCluster: { clusterRoleName: AGENT_HUB_ROLE } },
                ],
              },
            },
          ],
        },
      },
      config,
    );
    // Without a ManagedClusterSetBinding in its namespace a Placement selects nothing.
    clusterSetBinding(this, ns, file);
    emit(
      this,
      "Placement",
      {
        apiVersion: "cluster.open-cluster-management.io/v1beta1",
        kind: "Placement",
        metadata: { name: ADDON_NAME, namespace: ns },
        spec: {
          predicates: selectors.map(labelSelector => ({
            requiredClusterSelector: { labelSelector },
          })),
          // As the stage policies' Placements: a cluster rebooting into its new stateroot is
          // briefly unavailable, and must keep its agent.
          tolerations: [
            { key: "cluster.open-cluster-management.io/unavailable", operator: "Exists" },
            { key: "cluster.open-cluster-management.io/unreachable", operator: "Exists" },
          ],
        },
      },
      config,
    );
    const maxConcurrency = /^[0-9]+$/.test(this.addon.maxConcurrency)
      ? Number(this.addon.maxConcurrency)
      : this.addon.maxConcurrency;
    emit(
      this,
      "ClusterManagementAddOn",
      {
        apiVersion: `${ADDON_GROUP}/v1alpha1`,
        kind: "ClusterManagementAddOn",
        metadata: {
          name: ADDON_NAME,
          annotations: { "addon.open-cluster-management.io/lifecycle": "addon-manager" },
        },
        spec: {
          addOnMeta: {
            displayName: "ibu-gitops",
            description:
              "Image-based upgrades of single-node OpenShift: serves the Lifecycle Agent's ImageBasedUpgrade API on each cluster and reports progress to the hub",
          },
          supportedConfigs: [
            {
              group: ADDON_GROUP,
              resource: "addontemplates",
              defaultConfig: { name: templateName },
            },
            {
              group: ADDON_GROUP,
              resource: "addondeploymentconfigs",
              defaultConfig: { name: ADDON_NAME, namespace: ns },
            },
          ],
          installStrategy: {
            type: "Placements",
            placements: [
              {
                name: ADDON_NAME,
                namespace: ns,
                rolloutStrategy: { type: "Progressive", progressive: { maxConcurrency } },
              },
            ],
          },
        },
      },
      { file, wave: AddonWave.clusterManagementAddOn },
    );
  }

  /** What the addon-manager puts in each spoke's ManifestWork. */
  private spokeManifests(spokeCrds: readonly Crd[]): KubeObject[] {
    const ns = this.addon.installNamespace;
    const sa = { kind: "ServiceAccount", name: AGENT_NAME, namespace: ns };
    const binding = (name: string): KubeObject => ({
      apiVersion: `${RBAC_GROUP}/v1`,
      kind: "ClusterRoleBinding",
      metadata: { name, labels: labels(name) },
      roleRef: { apiGroup: RBAC_GROUP, kind: "ClusterRole", name },
      subjects: [sa],
    });
    const crds = spokeCrds.map(crd => ({
      ...crd,
      metadata: {
        ...crd.metadata,
        // Removing the addon must not delete the CRD, and with it every ImageBasedUpgrade.
        annotations: {
          ...crd.metadata.annotations,
          "addon.open-cluster-management.io/deletion-orphan": "",
        },
      },
    }));
    const manifests: KubeObject[] = [
      {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: ns },
      },
      ...crds,
      {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: AGENT_NAME, namespace: ns, labels: labels(AGENT_NAME) },
      },
      {
        apiVersion: `${RBAC_GROUP}/v1`,
        kind: "ClusterRole",
        metadata: { name: AGENT_SPOKE_ROLE, labels: labels(AGENT_SPOKE_ROLE) },
        rules: [
          // The API it serves, LCA's: the singleton `upgrade`, its spec and status.
          {
            apiGroups: ["lca.openshift.io"],
            resources: ["imagebasedupgrades", "imagebasedupgrades/status"],
            verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
          },
          // oadpContent and extraManifests ConfigMaps (any namespace the IBU names), and the
          // seed pull secret: read only. Only `get` on Secrets: the agent reads one by name.
          {
            apiGroups: [""],
            resources: ["configmaps"],
            verbs: ["get", "list", "watch"],
          },
          { apiGroups: [""], resources: ["secrets"], verbs: ["get"] },
          // OADP: Backups before the pivot, Restores after it; DeleteBackupRequests on finalize
          // and, during Prep, for stale Backups another installation left.
          {
            apiGroups: ["velero.io"],
            resources: ["backups", "restores"],
            verbs: ["get", "list", "watch", "create", "patch", "delete"],
          },
          {
            apiGroups: ["velero.io"],
            resources: ["deletebackuprequests"],
            verbs: ["get", "list", "create", "delete"],
          },
          // LVMS volumes set to Retain around the Backups and Restores, then back (LCA's).
          { apiGroups: [""], resources: ["persistentvolumes"], verbs: ["list", "patch"] },
          // Events about the upgrade.
          { apiGroups: ["", "events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
          // LCA's health checks before Prep, Upgrade and finalize: read only, by list.
          {
            apiGroups: ["config.openshift.io"],
            resources: ["clusteroperators", "infrastructures", "clusterversions"],
            verbs: ["get", "list"],
          },
          {
            apiGroups: ["machineconfiguration.openshift.io"],
            resources: ["machineconfigpools"],
            verbs: ["list"],
          },
          {
            apiGroups: ["sriovnetwork.openshift.io"],
            resources: ["sriovnetworknodestates"],
            verbs: ["list"],
          },
          {
            apiGroups: ["oadp.openshift.io"],
            resources: ["dataprotectionapplications"],
            verbs: ["list"],
          },
          { apiGroups: ["velero.io"], resources: ["backupstoragelocations"], verbs: ["list"] },
          { apiGroups: [""], resources: ["nodes"], verbs: ["list"] },
          {
            apiGroups: ["operators.coreos.com"],
            resources: ["clusterserviceversions"],
            verbs: ["list"],
          },
          {
            apiGroups: ["certificates.k8s.io"],
            resources: ["certificatesigningrequests"],
            verbs: ["list"],
          },
          // LCA's policy manifests: the cluster's inform Policies (replicated by ACM's governance
          // framework) are read for objects labelled lca.openshift.io/target-ocp-version.
          {
            apiGroups: ["policy.open-cluster-management.io"],
            resources: ["policies"],
            verbs: ["list"],
          },
          // LCA's cluster configuration across the pivot: read before it, merge-patched back
          // after it, each object by name where the kind allows (mirror sets may be new).
          {
            apiGroups: [""],
            resources: ["secrets"],
            verbs: ["patch"],
            resourceNames: ["pull-secret"],
          },
          {
            apiGroups: [""],
            resources: ["configmaps"],
            verbs: ["patch"],
            resourceNames: ["user-ca-bundle"],
          },
          {
            apiGroups: ["config.openshift.io"],
            resources: ["proxies"],
            verbs: ["get", "patch"],
            resourceNames: ["cluster"],
          },
          {
            apiGroups: ["config.openshift.io"],
            resources: ["clusterversions"],
            verbs: ["patch"],
            resourceNames: ["version"],
          },
          // (the seed's mirror sets and CatalogSources are deleted first, as LCA does)
          {
            apiGroups: ["config.openshift.io"],
            resources: ["imagedigestmirrorsets"],
            verbs: ["get", "list", "create", "patch", "delete"],
          },
          {
            apiGroups: ["operator.openshift.io"],
            resources: ["imagecontentsourcepolicies"],
            verbs: ["get", "list", "create", "patch", "delete"],
          },
          {
            apiGroups: ["operators.coreos.com"],
            resources: ["catalogsources"],
            verbs: ["list", "delete"],
          },
          // The node's own labels, put back on it after the pivot (LCA's setNodeLabels).
          { apiGroups: [""], resources: ["nodes"], verbs: ["patch"] },
          // (and any MachineConfig read: the node's current one tells whether FIPS is on)
          {
            apiGroups: ["machineconfiguration.openshift.io"],
            resources: ["machineconfigs"],
            verbs: ["get"],
          },
          {
            apiGroups: ["machineconfiguration.openshift.io"],
            resources: ["machineconfigs"],
            verbs: ["patch"],
            resourceNames: ["99-master-ssh", "99-worker-ssh"],
          },
          // Prep's dry-run of extra manifests whose namespace the content itself creates: the
          // namespace is created for the dry run and deleted afterwards, as LCA does.
          { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "create", "delete"] },
        ],
      },
      binding(AGENT_SPOKE_ROLE),
      {
        apiVersion: `${RBAC_GROUP}/v1`,
        kind: "ClusterRole",
        metadata: {
          name: AGENT_OADP_ROLE,
          labels: labels(AGENT_OADP_ROLE),
          annotations: {
            // After the pivot the seed's API state has neither this cluster's
            // DataProtectionApplication nor the credentials its backup locations name (a name
            // the user picks), and the Restores need both, so they are written back.
            "ibu-gitops.dev/why":
              "puts back OADP's DataProtectionApplication and its credential Secrets (names the user picks) after the pivot, before the Restores; LCA itself has cluster-admin",
          },
        },
        rules: [
          { apiGroups: [""], resources: ["secrets"], verbs: ["create", "patch"] },
          {
            apiGroups: ["oadp.openshift.io"],
            resources: ["dataprotectionapplications"],
            verbs: ["get", "create", "patch"],
          },
        ],
      },
      binding(AGENT_OADP_ROLE),
    ];
    if (this.addon.extraManifests) {
      manifests.push(
        {
          apiVersion: `${RBAC_GROUP}/v1`,
          kind: "ClusterRole",
          metadata: {
            name: AGENT_EXTRA_MANIFESTS_ROLE,
            labels: labels(AGENT_EXTRA_MANIFESTS_ROLE),
            annotations: {
              // LCA itself runs with cluster-admin. Extra manifests are arbitrary objects of any
              // kind the user ships (CatalogSources, MachineConfigs, ...), applied after the
              // pivot, so no narrower rule can be written; turn off with addon.extraManifests.
              "ibu-gitops.dev/why":
                "applies LCA extra manifests, which may be objects of any kind; LCA itself has cluster-admin",
            },
          },
          rules: [
            { apiGroups: ["*"], resources: ["*"], verbs: ["get", "create", "update", "patch"] },
          ],
        },
        binding(AGENT_EXTRA_MANIFESTS_ROLE),
      );
    }
    manifests.push(this.agentDeployment());
    return manifests;
  }

  private agentDeployment(): KubeObject {
    return {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: {
        name: AGENT_NAME,
        namespace: this.addon.installNamespace,
        labels: labels(AGENT_NAME),
      },
      spec: {
        replicas: 1,
        // Never two agents on one node: the old one stops before the new one starts.
        strategy: { type: "Recreate" },
        selector: { matchLabels: labels(AGENT_NAME) },
        template: {
          metadata: { labels: labels(AGENT_NAME) },
          spec: {
            serviceAccountName: AGENT_NAME,
            // Like LCA: the node's processes and its root filesystem (ostree, container storage).
            hostPID: true,
            containers: [
              {
                name: "agent",
                image: this.addon.image,
                // {{HUB_KUBECONFIG}} and {{CLUSTER_NAME}} are filled in by the addon-manager.
                args: [
                  "agent",
                  // The host's / is mounted at /host: its ostree sysroot is /host/sysroot.
                  "--sysroot=/host/sysroot",
                  "--boot=host",
                  "--hub-kubeconfig={{HUB_KUBECONFIG}}",
                  "--cluster-name={{CLUSTER_NAME}}",
                ],
                env: [
                  { name: "NODE_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
                  { name: "LOG_LEVEL", value: "{{LOG_LEVEL}}" },
                ],
                securityContext: { privileged: true, runAsUser: 0 },
                resources: {
                  requests: { cpu: "10m", memory: "64Mi" },
                  limits: { memory: "256Mi" },
                },
                volumeMounts: [{ name: "host", mountPath: "/host" }],
              },
            ],
            volumes: [{ name: "host", hostPath: { path: "/", type: "Directory" } }],
          },
        },
      },
    };
  }
}
