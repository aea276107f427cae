// The ibu-gitops addon in the generator's output: its input checks (each problem with file, YAML
// path and line), what it emits and where, least-privilege RBAC, determinism, and no secrets.
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { FleetError, type FleetProblem } from "../../src/fleet/errors.js";
import { parseFleet } from "../../src/fleet/load.js";
import {
  ADDON_FILES,
  AGENT_EXTRA_MANIFESTS_ROLE,
  AGENT_OADP_ROLE,
  AGENT_HUB_ROLE,
  addonTemplateName,
} from "../../src/constructs/addon.js";
import { synthFleet, type OutputFiles } from "../../src/synth.js";

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  [k: string]: any;
};

const BASE = `apiVersion: ibu-gitops.dev/v1alpha1
kind: Fleet
metadata:
  name: lab
spec:
  clusterSelector:
    matchLabels:
      group-du-sno: ""
  seedImage:
    image: registry.example.com/seed:4.18.1
    version: 4.18.1
  groups:
    - name: canary
      clusters: [sno-1]
      stage: Prep
`;

const withAddon = (addon: string): string => `${BASE}  addon:\n${addon}`;

function problems(text: string): FleetProblem[] {
  try {
    parseFleet(text, "fleet.yaml");
  } catch (err) {
    if (err instanceof FleetError) return [...err.problems];
    throw err;
  }
  throw new Error("expected the fleet to be rejected");
}

function objects(files: OutputFiles, prefix = ""): Obj[] {
  return [...files.entries()]
    .filter(([f]) => f.startsWith(prefix) && !f.endsWith("kustomization.yaml"))
    .flatMap(([, text]) => parseAllDocuments(text).map(d => d.toJS() as Obj));
}

const find = (objs: Obj[], kind: string, name?: string): Obj => {
  const o = objs.find(x => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind} ${name ?? ""}`);
  return o;
};

const wave = (o: Obj): number => Number(o.metadata.annotations?.["argocd.argoproj.io/sync-wave"]);

describe("the addon section of a fleet file", () => {
  it("is optional: without it nothing of the addon is generated", () => {
    const files = synthFleet(parseFleet(BASE, "fleet.yaml"));
    expect([...files.keys()].filter(f => f.startsWith("addon/"))).toEqual([]);
  });

  it("fills in defaults", () => {
    const fleet = parseFleet(
      withAddon("    image: quay.example.com/x/ibu-gitops:1.2.3\n"),
      "f.yaml",
    );
    expect(fleet.spec.addon).toEqual({
      image: "quay.example.com/x/ibu-gitops:1.2.3",
      installNamespace: "open-cluster-management-agent-addon",
      hubNamespace: "ibu-gitops",
      maxConcurrency: "25%",
      hubReplicas: 2,
      extraManifests: true,
    });
  });

  it("needs an image, reported at the addon's line", () => {
    const p = problems(withAddon("    hubReplicas: 3\n"));
    expect(p).toEqual([
      expect.objectContaining({
        file: "fleet.yaml",
        path: "spec.addon.image",
        line: 16,
        message: expect.stringContaining("is required"),
      }),
    ]);
  });

  it("reports a selector the apiserver would refuse, each problem at its own line", () => {
    const p = problems(
      withAddon(`    image: quay.example.com/x/ibu-gitops:1.2.3
    clusterSelector:
      matchLabels:
        "bad key!": "x"
      matchExpressions:
        - key: ibu-wave
          operator: In
        - key: du
          operator: Exists
          values: ["a"]
        - key: zone
          operator: Equals
`),
    );
    const at = (path: string): FleetProblem | undefined => p.find(x => x.path === path);
    expect(at("spec.addon.clusterSelector.matchLabels.bad key!")).toMatchObject({
      line: 20,
      message: expect.stringContaining("is not a valid label key"),
    });
    expect(at("spec.addon.clusterSelector.matchExpressions[0]")).toMatchObject({
      line: 22,
      message: "In needs values",
    });
    expect(at("spec.addon.clusterSelector.matchExpressions[1].values")).toMatchObject({
      line: 26,
      message: "Exists takes no values",
    });
    expect(at("spec.addon.clusterSelector.matchExpressions[2].operator")).toMatchObject({
      line: 28,
      message: expect.stringContaining("must be one of In, NotIn, Exists, DoesNotExist"),
    });
    expect(p).toHaveLength(4);
  });

  it("refuses an empty selector (it would put a privileged agent on every cluster, the hub's too)", () => {
    const p = problems(
      withAddon("    image: quay.example.com/x/ibu-gitops:1.2.3\n    clusterSelector: {}\n"),
    );
    expect(p).toEqual([
      expect.objectContaining({
        path: "spec.addon.clusterSelector",
        line: 18,
        message: expect.stringMatching(
          /^is empty: it would select every managed cluster of the hub \(to select every managed cluster on purpose, write matchExpressions: \[\{key: name, operator: Exists\}\]\)$/,
        ) as string,
      }),
    ]);
  });

  it("reports a bad maxConcurrency, a taken hub namespace and unknown fields", () => {
    const p = problems(
      withAddon(`    image: quay.example.com/x/ibu-gitops:1.2.3
    maxConcurrency: "125%"
    hubNamespace: ztp-group
    replicas: 2
`),
    );
    // Sorted by line, as every fleet file's problems are.
    expect(p.map(x => [x.path, x.line])).toEqual([
      ["spec.addon.maxConcurrency", 18],
      ["spec.addon.hubNamespace", 19],
      ["spec.addon.replicas", 20],
    ]);
    expect(p[0]!.message).toContain("is not a count or a percentage");
    expect(p[1]!.message).toBe(
      "ztp-group is already a namespace of this fleet; the addon needs one of its own",
    );
  });
});

describe("the generated addon", () => {
  const files = synthFleet(
    parseFleet(
      withAddon(`    image: quay.example.com/ibu-gitops/ibu-gitops:0.1.0
    maxConcurrency: "10"
`),
      "fleet.yaml",
    ),
  );
  const hub = objects(files, "addon/");
  const template = find(hub, "AddOnTemplate");
  const spoke = template.spec.agentSpec.workload.manifests as Obj[];

  it("lays the objects out under addon/, listed in kustomization.yaml", () => {
    expect([...files.keys()].filter(f => f.startsWith("addon/")).sort()).toEqual(
      Object.values(ADDON_FILES).sort(),
    );
    const k = parseAllDocuments(files.get("kustomization.yaml")!)[0]!.toJS() as {
      resources: string[];
    };
    expect(k.resources).toEqual(expect.arrayContaining(Object.values(ADDON_FILES)));
  });

  it("wires the ClusterManagementAddOn to its template, deployment config and Placement", () => {
    const cma = find(hub, "ClusterManagementAddOn", "ibu-gitops");
    expect(template.metadata.name).toBe("ibu-gitops-0-1-0");
    expect(template.spec.addonName).toBe("ibu-gitops");
    expect(cma.spec.supportedConfigs).toEqual([
      {
        group: "addon.open-cluster-management.io",
        resource: "addontemplates",
        defaultConfig: { name: "ibu-gitops-0-1-0" },
      },
      {
        group: "addon.open-cluster-management.io",
        resource: "addondeploymentconfigs",
        defaultConfig: { name: "ibu-gitops", namespace: "ibu-gitops" },
      },
    ]);
    expect(cma.spec.installStrategy).toEqual({
      type: "Placements",
      placements: [
        {
          name: "ibu-gitops",
          namespace: "ibu-gitops",
          rolloutStrategy: { type: "Progressive", progressive: { maxConcurrency: 10 } },
        },
      ],
    });
    const placement = find(hub, "Placement", "ibu-gitops");
    // No addon.clusterSelector: the fleet's clusterSelector.
    expect(placement.spec.predicates).toEqual([
      { requiredClusterSelector: { labelSelector: { matchLabels: { "group-du-sno": "" } } } },
    ]);
    expect(placement.spec.tolerations.map((t: { key: string }) => t.key)).toEqual([
      "cluster.open-cluster-management.io/unavailable",
      "cluster.open-cluster-management.io/unreachable",
    ]);
    expect(find(hub, "ManagedClusterSetBinding").metadata.namespace).toBe("ibu-gitops");
    const adc = find(hub, "AddOnDeploymentConfig", "ibu-gitops");
    expect(adc.spec.agentInstallNamespace).toBe("open-cluster-management-agent-addon");
    expect(template.spec.registration).toEqual([
      {
        type: "KubeClient",
        kubeClient: {
          hubPermissions: [
            { type: "CurrentCluster", currentCluster: { clusterRoleName: AGENT_HUB_ROLE } },
          ],
        },
      },
    ]);
  });

  it("syncs CRDs and ClusterRoles before the configuration, the ClusterManagementAddOn after it, and the hub Deployment in the last wave", () => {
    const cma = wave(find(hub, "ClusterManagementAddOn"));
    // A Deployment still rolling out is Progressing: Argo CD would hold every later wave.
    const deployment = wave(find(hub, "Deployment"));
    for (const o of hub.filter(x => wave(x) !== deployment && x.kind !== "ClusterManagementAddOn"))
      expect(wave(o), `${o.kind} ${o.metadata.name}`).toBeLessThan(cma);
    expect(cma).toBeLessThan(deployment);
    for (const o of hub)
      expect(wave(o), `${o.kind} ${o.metadata.name}`).toBeLessThanOrEqual(deployment);
    expect(wave(find(hub, "CustomResourceDefinition"))).toBeLessThan(
      wave(find(hub, "ClusterRole")),
    );
    expect(wave(find(hub, "ClusterRole"))).toBeLessThan(wave(template));
    expect(wave(find(hub, "Namespace"))).toBeLessThan(wave(find(hub, "CustomResourceDefinition")));
  });

  it("puts each of our CRDs where its installed-on annotation says", () => {
    expect(
      hub.filter(o => o.kind === "CustomResourceDefinition").map(o => o.metadata.name),
    ).toEqual(["clusterupgrades.ibu-gitops.dev"]);
    const crds = spoke.filter(o => o.kind === "CustomResourceDefinition");
    expect(crds.map(o => o.metadata.name)).toEqual(["imagebasedupgrades.lca.openshift.io"]);
    expect(crds[0]!.metadata.annotations).toMatchObject({
      "ibu-gitops.dev/installed-on": "spoke",
      "addon.open-cluster-management.io/deletion-orphan": "",
    });
  });

  it("gives the agent on the hub only its report and its addon status", () => {
    const role = find(hub, "ClusterRole", AGENT_HUB_ROLE);
    expect(role.rules).toEqual([
      { apiGroups: ["ibu-gitops.dev"], resources: ["clusterupgrades"], verbs: ["create"] },
      {
        apiGroups: ["ibu-gitops.dev"],
        resources: ["clusterupgrades"],
        verbs: ["get", "update", "patch"],
        resourceNames: ["upgrade"],
      },
      {
        apiGroups: ["addon.open-cluster-management.io"],
        resources: ["managedclusteraddons"],
        verbs: ["get"],
        resourceNames: ["ibu-gitops"],
      },
      {
        apiGroups: ["addon.open-cluster-management.io"],
        resources: ["managedclusteraddons/status"],
        verbs: ["get", "patch", "update"],
        resourceNames: ["ibu-gitops"],
      },
    ]);
    const mgr = find(hub, "ClusterRole", "ibu-gitops-addon-manager");
    expect(mgr.rules).toEqual([
      {
        apiGroups: ["rbac.authorization.k8s.io"],
        resources: ["clusterroles"],
        verbs: ["bind", "escalate"],
        resourceNames: [AGENT_HUB_ROLE],
      },
    ]);
    expect(find(hub, "ClusterRoleBinding", "ibu-gitops-addon-manager").subjects).toEqual([
      {
        kind: "ServiceAccount",
        name: "addon-manager-controller-sa",
        namespace: "open-cluster-management-hub",
      },
    ]);
  });

  it("runs the agent as LCA runs: privileged, host PID, the host's / at /host, one replica", () => {
    const d = find(spoke, "Deployment", "ibu-gitops-agent");
    expect(d.metadata.namespace).toBe("open-cluster-management-agent-addon");
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy).toEqual({ type: "Recreate" });
    const pod = d.spec.template.spec;
    expect(pod.hostPID).toBe(true);
    expect(pod.serviceAccountName).toBe("ibu-gitops-agent");
    expect(pod.volumes).toEqual([{ name: "host", hostPath: { path: "/", type: "Directory" } }]);
    const c = pod.containers[0];
    expect(c.image).toBe("quay.example.com/ibu-gitops/ibu-gitops:0.1.0");
    expect(c.args).toEqual([
      "agent",
      "--sysroot=/host/sysroot",
      "--boot=host",
      "--hub-kubeconfig={{HUB_KUBECONFIG}}",
      "--cluster-name={{CLUSTER_NAME}}",
    ]);
    expect(c.securityContext.privileged).toBe(true);
    expect(c.volumeMounts).toEqual([{ name: "host", mountPath: "/host" }]);
    expect(c.env).toContainEqual({
      name: "NODE_IP",
      valueFrom: { fieldRef: { fieldPath: "status.hostIP" } },
    });
    expect(c.resources).toEqual({
      requests: { cpu: "10m", memory: "64Mi" },
      limits: { memory: "256Mi" },
    });
  });

  it("keeps the agent's spoke rights narrow, and the broad extra-manifests role separate", () => {
    const role = find(spoke, "ClusterRole", "ibu-gitops-agent");
    const rules = role.rules as Array<{
      apiGroups: string[];
      resources: string[];
      verbs: string[];
    }>;
    expect(rules.flatMap(r => r.apiGroups)).not.toContain("*");
    // Secrets: read by name; written only the pull secret, by name (cluster configuration).
    const secrets = rules.filter(r => r.resources.includes("secrets"));
    expect(secrets.map(r => [r.verbs, (r as { resourceNames?: string[] }).resourceNames])).toEqual([
      [["get"], undefined],
      [["patch"], ["pull-secret"]],
    ]);
    // OADP's credentials are the one place Secrets of any name are written: a role of its own.
    const oadp = find(spoke, "ClusterRole", AGENT_OADP_ROLE);
    expect(oadp.metadata.annotations?.["ibu-gitops.dev/why"]).toContain(
      "DataProtectionApplication",
    );
    expect(oadp.rules).toContainEqual({
      apiGroups: [""],
      resources: ["secrets"],
      verbs: ["create", "patch"],
    });
    const configmaps = rules.find(r => r.resources.includes("configmaps"))!;
    expect(configmaps.verbs).toEqual(["get", "list", "watch"]);
    const extra = find(spoke, "ClusterRole", AGENT_EXTRA_MANIFESTS_ROLE);
    expect(extra.metadata.annotations?.["ibu-gitops.dev/why"]).toContain("cluster-admin");
    expect(find(spoke, "ClusterRoleBinding", AGENT_EXTRA_MANIFESTS_ROLE).subjects).toEqual([
      {
        kind: "ServiceAccount",
        name: "ibu-gitops-agent",
        namespace: "open-cluster-management-agent-addon",
      },
    ]);

    const without = objects(
      synthFleet(
        parseFleet(
          withAddon("    image: quay.example.com/x/ibu-gitops:1\n    extraManifests: false\n"),
          "f.yaml",
        ),
      ),
      "addon/",
    );
    const manifests = find(without, "AddOnTemplate").spec.agentSpec.workload.manifests as Obj[];
    expect(manifests.map(m => m.metadata.name)).not.toContain(AGENT_EXTRA_MANIFESTS_ROLE);
    expect(manifests.map(m => m.metadata.name)).toContain("ibu-gitops-agent");
  });

  it("runs the hub controller non-root, read-only, without capabilities, with leader election", () => {
    const d = find(hub, "Deployment", "ibu-gitops-hub");
    expect(d.spec.replicas).toBe(2);
    const pod = d.spec.template.spec;
    expect(pod.securityContext).toEqual({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    const c = pod.containers[0];
    expect(c.args).toEqual([
      "hub",
      "--listen=:8443",
      "--leader-elect",
      "--tls-cert=/var/run/ibu-gitops/tls/tls.crt",
      "--tls-key=/var/run/ibu-gitops/tls/tls.key",
    ]);
    // Served over TLS with a certificate from OpenShift's service CA, probed over HTTPS.
    expect(find(hub, "Service", "ibu-gitops-hub").metadata.annotations).toMatchObject({
      "service.beta.openshift.io/serving-cert-secret-name": "ibu-gitops-hub-tls",
    });
    expect(pod.volumes).toContainEqual({
      name: "tls",
      secret: { secretName: "ibu-gitops-hub-tls" },
    });
    expect(c.readinessProbe.httpGet).toEqual({ path: "/readyz", port: "https", scheme: "HTTPS" });
    // Platform monitoring scrapes /metrics over TLS; the namespace opts in to it.
    const sm = find(hub, "ServiceMonitor", "ibu-gitops-hub");
    expect(sm.spec.endpoints[0]).toMatchObject({
      port: "https",
      scheme: "https",
      path: "/metrics",
    });
    expect(sm.spec.selector.matchLabels).toEqual(
      find(hub, "Service", "ibu-gitops-hub").spec.selector,
    );
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(find(hub, "Service", "ibu-gitops-hub").spec.ports).toEqual([
      { name: "https", port: 8443, targetPort: "https", protocol: "TCP" },
    ]);
    const leases = find(hub, "Role", "ibu-gitops-hub-leader-election");
    expect(leases.metadata.namespace).toBe("ibu-gitops");
    const hubRole = find(hub, "ClusterRole", "ibu-gitops-hub");
    const resources = (hubRole.rules as Array<{ resources: string[] }>).flatMap(r => r.resources);
    expect(resources).not.toContain("secrets");
    expect(resources).not.toContain("leases");
  });

  it("admits the addon's kinds and namespace in the Argo CD AppProject", () => {
    const project = find(objects(files, "argocd/"), "AppProject");
    const kinds = [
      ...project.spec.clusterResourceWhitelist,
      ...project.spec.namespaceResourceWhitelist,
    ].map((w: { kind: string }) => w.kind);
    for (const o of hub) expect(kinds).toContain(o.kind);
    expect(project.spec.destinations.map((d: { namespace: string }) => d.namespace)).toContain(
      "ibu-gitops",
    );
  });

  it("is deterministic: the same input gives the same bytes", () => {
    const again = synthFleet(
      parseFleet(
        withAddon(`    image: quay.example.com/ibu-gitops/ibu-gitops:0.1.0
    maxConcurrency: "10"
`),
        "fleet.yaml",
      ),
    );
    expect([...again.entries()]).toEqual([...files.entries()]);
  });

  it("holds no secret material", () => {
    // (addon/observability.yaml holds the Grafana dashboard and metrics allowlist ConfigMaps:
    // data, but no secrets; test/unit/grafana.test.ts checks them)
    const text = [...files.entries()]
      .filter(([f]) => f.startsWith("addon/") && f !== ADDON_FILES.observability)
      .map(([, t]) => t)
      .join("\n");
    expect(hub.map(o => o.kind)).not.toContain("Secret");
    expect(spoke.map(o => o.kind)).not.toContain("Secret");
    expect(text).not.toMatch(/BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)/);
    expect(text).not.toMatch(/dockerconfigjson|client-key-data|client-certificate-data|token:/i);
    expect(text).not.toMatch(/^\s*(data|stringData):/m);
    const observability = files.get(ADDON_FILES.observability)!;
    expect(observability).not.toMatch(
      /dockerconfigjson|client-key-data|BEGIN |token:|stringData:/i,
    );
  });
});

describe("the AddOnTemplate name", () => {
  it("follows the image's tag or digest", () => {
    expect(addonTemplateName("quay.example.com/a/ibu-gitops:0.1.0")).toBe("ibu-gitops-0-1-0");
    expect(addonTemplateName("registry:5000/ibu-gitops")).toBe("ibu-gitops-latest");
    expect(addonTemplateName(`quay.example.com/a/ibu-gitops@sha256:${"ab12".repeat(16)}`)).toBe(
      "ibu-gitops-ab12ab12ab12",
    );
    expect(addonTemplateName("q.example.com/a/b:V1_RC")).toBe("ibu-gitops-v1-rc");
  });
});
