// The generator's output for both flavours, read as specifications of ZTP's semantics.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { scratchDir } from "../support/scratch.js";
import { loadFleet, parseFleet } from "../../src/fleet/load.js";
import { ALLOWED_IBGU_PLANS, ibguPlanProblem } from "../../src/fleet/stages.js";
import { synthFleet, type OutputFiles } from "../../src/synth.js";
import { HEALTH_ASSESSED_KINDS } from "../../src/constructs/output.js";

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
  spec?: any;
  [k: string]: any;
};

function objects(files: OutputFiles, file?: string): Obj[] {
  return [...files.entries()]
    .filter(
      ([f]) => f.endsWith(".yaml") && !f.endsWith("kustomization.yaml") && (!file || f === file),
    )
    .flatMap(([, text]) => parseAllDocuments(text).map(d => d.toJS() as Obj));
}

const byName = (objs: Obj[], kind: string, name: string): Obj => {
  const o = objs.find(x => x.kind === kind && x.metadata.name === name);
  if (!o)
    throw new Error(
      `no ${kind} ${name}; have ${objs.map(x => `${x.kind}/${x.metadata.name}`).join(", ")}`,
    );
  return o;
};

const configPolicy = (p: Obj): any => p.spec["policy-templates"][0].objectDefinition;

describe("the cgu flavour (examples/fleet.yaml)", () => {
  const files = synthFleet(loadFleet("examples/fleet.yaml"), { sourceName: "examples/fleet.yaml" });
  const all = objects(files);

  it("emits ZTP's five stage policies, inform, 10s/10s, without ztp-deploy-wave", () => {
    const policies = all.filter(o => o.kind === "Policy").map(p => p.metadata.name);
    expect(policies).toEqual([
      "group-ibu-oadp-cm-policy",
      "group-ibu-prep-stage-policy",
      "group-ibu-upgrade-stage-policy",
      "group-ibu-finalize-stage-policy",
      "group-ibu-rollback-stage-policy",
    ]);
    for (const p of all.filter(o => o.kind === "Policy")) {
      expect(p.metadata.namespace).toBe("ztp-group");
      expect(p.spec.remediationAction).toBe("inform");
      expect(configPolicy(p).spec.evaluationInterval).toEqual({
        compliant: "10s",
        noncompliant: "10s",
      });
      expect(Object.keys(p.metadata.annotations ?? {})).not.toContain(
        "ran.openshift.io/ztp-deploy-wave",
      );
    }
  });

  it("checks Prep completion without pinning LCA's condition message", () => {
    const ibu = configPolicy(byName(all, "Policy", "group-ibu-prep-stage-policy")).spec[
      "object-templates"
    ][0].objectDefinition;
    expect(ibu.spec.stage).toBe("Prep");
    expect(ibu.spec.seedImageRef).toEqual({
      image: "quay.example.com/seeds/sno-seed:4.18.1",
      version: "4.18.1",
      pullSecretRef: { name: "seed-pull-secret" },
    });
    expect(ibu.spec.oadpContent).toEqual([{ name: "oadp-cm", namespace: "openshift-adp" }]);
    expect(ibu.status.conditions).toEqual([
      { type: "PrepCompleted", status: "True", reason: "Completed" },
    ]);
  });

  it("finalizes with mustonlyhave on a bare Idle spec plus a status check", () => {
    const templates = configPolicy(byName(all, "Policy", "group-ibu-finalize-stage-policy")).spec[
      "object-templates"
    ];
    expect(templates[0]).toEqual({
      complianceType: "mustonlyhave",
      objectDefinition: {
        apiVersion: "lca.openshift.io/v1",
        kind: "ImageBasedUpgrade",
        metadata: { name: "upgrade" },
        spec: { stage: "Idle" },
      },
    });
    expect(templates[1].complianceType).toBe("musthave");
    expect(templates[1].objectDefinition.status.conditions).toEqual([
      { type: "Idle", status: "True", reason: "Idle" },
    ]);
  });

  it("copies the hub OADP ConfigMap to spokes with a hub template, and keeps the data on the hub", () => {
    const copy = configPolicy(byName(all, "Policy", "group-ibu-oadp-cm-policy")).spec[
      "object-templates"
    ][0];
    expect(copy.complianceType).toBe("mustonlyhave");
    expect(copy.objectDefinition.data).toBe('{{hub copyConfigMapData "ztp-group" "oadp-cm" hub}}');
    const hubCm = byName(all, "ConfigMap", "oadp-cm");
    expect(hubCm.metadata.namespace).toBe("ztp-group");
    expect(Object.keys(hubCm.data)).toEqual([
      "PlatformBackupRestore.yaml",
      "PlatformBackupRestoreLvms.yaml",
      "app-backup-restore.yaml",
    ]);
  });

  it("places each policy with a Placement and PlacementBinding named as PolicyGenerator names them", () => {
    const placement = byName(all, "Placement", "placement-group-ibu-prep-stage-policy");
    expect(placement.spec.predicates).toEqual([
      {
        requiredClusterSelector: {
          labelSelector: { matchExpressions: [{ key: "group-du-sno", operator: "Exists" }] },
        },
      },
    ]);
    const binding = byName(all, "PlacementBinding", "binding-group-ibu-prep-stage-policy");
    expect(binding.placementRef.name).toBe("placement-group-ibu-prep-stage-policy");
    expect(binding.subjects).toEqual([
      {
        apiGroup: "policy.open-cluster-management.io",
        kind: "Policy",
        name: "group-ibu-prep-stage-policy",
      },
    ]);
    expect(
      all.filter(o => o.kind === "Placement" && o.metadata.namespace === "ztp-group"),
    ).toHaveLength(5);
    expect(byName(all, "ManagedClusterSetBinding", "global").spec).toEqual({
      clusterSet: "global",
    });
  });

  it("has for each group exactly the CGUs of its desired stage, with ZTP's auto-import actions", () => {
    const cgus = all.filter(o => o.kind === "ClusterGroupUpgrade");
    expect(cgus.map(c => c.metadata.name)).toEqual([
      "canary-prep-4-18-1",
      "canary-upg-hj5t",
      "wave-1-prep-4-18-1",
    ]);
    const upgrade = byName(all, "ClusterGroupUpgrade", "canary-upg-hj5t");
    expect(upgrade.spec.actions).toEqual({
      beforeEnable: {
        addClusterAnnotations: { "import.open-cluster-management.io/disable-auto-import": "true" },
      },
      afterCompletion: {
        removeClusterAnnotations: ["import.open-cluster-management.io/disable-auto-import"],
      },
    });
    expect(upgrade.spec.remediationStrategy).toEqual({
      maxConcurrency: 50,
      timeout: 240,
      canaries: ["sno-001"],
    });
    const prep = byName(all, "ClusterGroupUpgrade", "canary-prep-4-18-1");
    expect(prep.spec.managedPolicies).toEqual([
      "group-ibu-oadp-cm-policy",
      "group-ibu-prep-stage-policy",
    ]);
    expect(prep.spec.actions).toBeUndefined();
    expect(
      byName(all, "ClusterGroupUpgrade", "wave-1-prep-4-18-1").spec.clusterLabelSelectors,
    ).toEqual([{ matchLabels: { "ibu-wave": "1" } }]);
  });

  it("makes the upgrade CGU wait for the prep CGU and keep only the clusters it completed", () => {
    const upgrade = byName(all, "ClusterGroupUpgrade", "canary-upg-hj5t");
    expect(upgrade.spec.blockingCRs).toEqual([
      { name: "canary-prep-4-18-1", namespace: "ztp-upgrades" },
    ]);
    expect(upgrade.metadata.annotations).toMatchObject({
      "ran.openshift.io/blocking-cgu-completion-mode": "partial",
      "ran.openshift.io/blocking-cgu-cluster-filtering": "true",
    });
    const prep = byName(all, "ClusterGroupUpgrade", "canary-prep-4-18-1");
    expect(prep.spec.blockingCRs).toBeUndefined();
  });

  it("keeps every name TALM derives from a CGU within a label value (63)", () => {
    for (const cgu of all.filter(o => o.kind === "ClusterGroupUpgrade")) {
      for (const policy of cgu.spec.managedPolicies as string[]) {
        // TALM release-4.22: <cgu>-<policy>-placement-<5 random characters>
        expect(`${cgu.metadata.name}-${policy}-placement-xxxxx`.length).toBeLessThanOrEqual(63);
      }
    }
  });

  it("orders sync waves: namespaces, then configuration, placement, and everything with a health last", () => {
    const wave = (o: Obj): number =>
      Number(o.metadata.annotations?.["argocd.argoproj.io/sync-wave"] ?? 0);
    const waveOf = (kind: string): number => wave(all.find(o => o.kind === kind)!);
    expect(waveOf("Namespace")).toBeLessThan(waveOf("ConfigMap"));
    expect(waveOf("ConfigMap")).toBeLessThan(waveOf("Placement"));
    // Argo CD waits for every earlier wave to be Healthy and never for the last one: a
    // NonCompliant inform Policy (Degraded) or a Deployment rolling out must hold back nothing.
    const last = Math.max(...all.map(wave));
    for (const o of all.filter(x => HEALTH_ASSESSED_KINDS.has(x.kind)))
      expect(wave(o), `${o.kind} ${o.metadata.name}`).toBe(last);
    expect(waveOf("Policy")).toBe(waveOf("ClusterGroupUpgrade"));
  });

  it("lists every manifest in kustomization.yaml, and keeps the Argo CD bootstrap apart", () => {
    const k = parseAllDocuments(files.get("kustomization.yaml")!)[0]!.toJS() as {
      resources: string[];
    };
    expect(k.resources).toEqual([
      "namespaces.yaml",
      "hub-configmaps.yaml",
      "policies.yaml",
      "placement.yaml",
      "addon/namespace.yaml",
      "addon/crds.yaml",
      "addon/rbac.yaml",
      "addon/hub-controller.yaml",
      "addon/addon.yaml",
      "addon/observability.yaml",
      "upgrades/canary.yaml",
      "upgrades/wave-1.yaml",
    ]);
    const project = byName(objects(files, "argocd/argocd.yaml"), "AppProject", "ibu-gitops-du-sno");
    const kinds = [
      ...project.spec.clusterResourceWhitelist,
      ...project.spec.namespaceResourceWhitelist,
    ].map((w: { kind: string }) => w.kind);
    for (const o of all.filter(x => !["Application", "AppProject"].includes(x.kind)))
      expect(kinds).toContain(o.kind);
  });

  it("is deterministic: the same input gives the same bytes", () => {
    const again = synthFleet(loadFleet("examples/fleet.yaml"), {
      sourceName: "examples/fleet.yaml",
    });
    expect([...again.entries()]).toEqual([...files.entries()]);
  });
});

describe("the ibgu flavour (examples/fleet-ibgu.yaml)", () => {
  const all = objects(synthFleet(loadFleet("examples/fleet-ibgu.yaml")));
  const ibgus = all.filter(o => o.kind === "ImageBasedGroupUpgrade");

  it("gives each group an IBGU whose plan TALM accepts, with abort and rollback apart", () => {
    expect(ibgus.map(i => i.metadata.name)).toEqual([
      "ibu-canary-4-18-1",
      "ibu-lab-rollback-4-18-1",
      "ibu-main-4-18-1",
    ]);
    for (const i of ibgus)
      expect(
        ibguPlanProblem(i.spec.plan.map((p: { actions: string[] }) => p.actions)),
      ).toBeUndefined();
    expect(
      byName(all, "ImageBasedGroupUpgrade", "ibu-main-4-18-1").spec.plan.map(
        (p: { actions: string[] }) => p.actions,
      ),
    ).toEqual([["Prep"], ["AbortOnFailure"], ["Upgrade"], ["AbortOnFailure"]]);
  });

  it("puts the OADP ConfigMap on the hub where TALM reads it, with the ibu-role kept across the pivot", () => {
    const cm = byName(all, "ConfigMap", "oadp-cm");
    expect(cm.metadata.namespace).toBe("openshift-adp");
    expect(cm.data["PlatformBackupRestoreWithIBGU.yaml"]).toContain(
      "open-cluster-management:klusterlet-work:ibu-role",
    );
  });

  it("carries LCA annotations that differ from the defaults, for TALM to copy onto each IBU", () => {
    expect(ibgus[0]!.metadata.annotations).toMatchObject({
      "image-cleanup.lca.openshift.io/disk-usage-threshold-percent": "60",
    });
    expect(ibgus[0]!.spec.ibuSpec.autoRollbackOnFailure).toEqual({
      initMonitorTimeoutSeconds: 2400,
    });
  });

  it("emits no policies (TALM's IBGU stamps ManifestWorks itself)", () => {
    expect(all.filter(o => o.kind === "Policy")).toEqual([]);
  });
});

describe("TALM's allowed IBGU plans", () => {
  it("are all accepted, every prefix of them included", () => {
    for (const plan of ALLOWED_IBGU_PLANS) expect(ibguPlanProblem(plan)).toBeUndefined();
  });

  it("reject a plan whose prefix is not allowed even if the whole plan were", () => {
    expect(ibguPlanProblem([["Upgrade"], ["Prep"]])).toMatch(/not among TALM's allowed sequences/);
  });
});

const SMALL_FLEET =
  "apiVersion: ibu-gitops.dev/v1alpha1\nkind: Fleet\nmetadata: {name: t}\nspec:\n  seedImage: {image: r/s:4.18.1, version: 4.18.1}\n  groups: [{name: g, clusters: [c1], stage: Prep}]\n";

describe("templates", () => {
  it("can be overridden file by file from a user's folder, keeping ACM hub templates untouched", () => {
    const dir = scratchDir("ibu-templates");
    writeFileSync(
      join(dir, "ConfigMap.yaml.hbs"),
      // The label only on the spoke copy (the one with a hub template for its data): the hub's
      // own ConfigMap is applied as is, and the hub's apiserver would refuse that label value.
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{json name}}}\n  namespace: {{{json namespace}}}\n{{#if dataTemplate}}  labels:\n    site: '{{hub .ManagedClusterName hub}}'\n{{/if}}data: {{#if dataTemplate}}{{{json dataTemplate}}}{{else}}{}{{/if}}\n",
    );
    const fleet = parseFleet(SMALL_FLEET, "fleet.yaml");
    const all = objects(synthFleet(fleet, { templatesDir: dir }));
    const copy = configPolicy(byName(all, "Policy", "group-ibu-oadp-cm-policy")).spec[
      "object-templates"
    ][0].objectDefinition;
    expect(copy.metadata.labels).toEqual({ site: "{{hub .ManagedClusterName hub}}" });
    const ibu = configPolicy(byName(all, "Policy", "group-ibu-prep-stage-policy")).spec[
      "object-templates"
    ][0].objectDefinition;
    expect(ibu.kind).toBe("ImageBasedUpgrade"); // not overridden: the bundled template
  });

  it("that make an object the apiserver would refuse fail synth, which then writes nothing", () => {
    const dir = scratchDir("ibu-templates");
    writeFileSync(
      join(dir, "ConfigMap.yaml.hbs"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{json name}}}\n  namespace: {{{json namespace}}}\n  labels:\n    site: '{{hub .ManagedClusterName hub}}'\ndata: {}\n",
    );
    const fleet = parseFleet(SMALL_FLEET, "fleet.yaml");
    expect(() => synthFleet(fleet, { templatesDir: dir })).toThrow(
      /\(output\): ConfigMap "oadp-cm" label "site": "\{\{hub \.ManagedClusterName hub\}\}" is not a valid label value/,
    );
  });
});

describe("a fleet without OADP content (oadp.content: [])", () => {
  // LCA fails Prep on an OADP ConfigMap without a Backup/Restore pair; with no content the IBU
  // must name none, and nothing may copy an empty ConfigMap.
  const without = (flavour: string, more = ""): Obj[] =>
    objects(
      synthFleet(
        parseFleet(
          `${SMALL_FLEET}  flavour: ${flavour}\n  oadp: {content: []}\n${more}`.replace(
            "groups: [{name: g, clusters: [c1], stage: Prep}]",
            flavour === "ibgu"
              ? "groups: [{name: g, selector: {matchLabels: {g: a}}, stage: Prep}]"
              : "groups: [{name: g, clusters: [c1], stage: Prep}]",
          ),
          "fleet.yaml",
        ),
      ),
    );

  it("cgu: no oadp ConfigMap, no oadp-cm policy, an IBU without oadpContent, prep CGU on the prep policy alone", () => {
    const all = without("cgu");
    expect(all.filter(o => o.kind === "ConfigMap")).toEqual([]);
    expect(all.filter(o => o.kind === "Policy").map(p => p.metadata.name)).not.toContain(
      "group-ibu-oadp-cm-policy",
    );
    expect(all.filter(o => o.kind === "Placement").map(p => p.metadata.name)).not.toContain(
      "group-ibu-oadp-cm-placement",
    );
    const ibu = configPolicy(byName(all, "Policy", "group-ibu-prep-stage-policy")).spec[
      "object-templates"
    ][0].objectDefinition;
    expect(ibu.spec.oadpContent).toBeUndefined();
    expect(ibu.spec.seedImageRef.version).toBe("4.18.1");
    const cgus = all.filter(o => o.kind === "ClusterGroupUpgrade");
    expect(cgus.map(c => c.spec.managedPolicies as string[])).toEqual([
      ["group-ibu-prep-stage-policy"],
    ]);
  });

  it("cgu with catalog sources: the oadp-cm policy stays, copying the extra manifests only", () => {
    const all = without(
      "cgu",
      "  catalogSources: [{name: redhat-operators, image: r/index:v4.18}]\n",
    );
    const copies = configPolicy(byName(all, "Policy", "group-ibu-oadp-cm-policy")).spec[
      "object-templates"
    ].map((t: { objectDefinition: Obj }) => t.objectDefinition.metadata.name);
    expect(copies).not.toContain("oadp-cm");
    expect(copies).toHaveLength(1);
    expect(all.find(o => o.kind === "ClusterGroupUpgrade")?.spec.managedPolicies).toEqual([
      "group-ibu-oadp-cm-policy",
      "group-ibu-prep-stage-policy",
    ]);
  });

  it("ibgu: no oadp ConfigMap on the hub and no oadpContent in ibuSpec", () => {
    const all = without("ibgu");
    expect(all.filter(o => o.kind === "ConfigMap")).toEqual([]);
    const ibgu = all.find(o => o.kind === "ImageBasedGroupUpgrade")!;
    expect(ibgu.spec.ibuSpec.oadpContent).toBeUndefined();
    expect(ibgu.spec.ibuSpec.seedImageRef.version).toBe("4.18.1");
  });
});
