// The generator's rules for a fleet file (src/fleet/rules.ts, canaries in load.ts) and the
// fields ZTP users rely on: annotations for the IBU, per-stage batchTimeoutAction, policy
// severity and evaluation interval (issue 13).
/* eslint-disable @typescript-eslint/no-unsafe-return */
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { FleetError, type FleetProblem } from "../../../src/fleet/errors.js";
import { parseFleet } from "../../../src/fleet/load.js";
import { BASE } from "./fleet-text.js";
import type { FleetSpec } from "../../../src/fleet/model.js";
import { derivedNameProblems } from "../../../src/fleet/rules.js";
import { synthFleet } from "../../../src/synth.js";

/** fleet-text's BASE, its group at Upgrade (so both CGUs are generated). */
const CGU = BASE.replace("      stage: Prep\n", "      stage: Upgrade\n");

const IBGU = CGU.replace("spec:\n", "spec:\n  flavour: ibgu\n").replace(
  "      clusters: [sno-1]\n",
  "      selector: {matchLabels: {g: canary}}\n",
);

function problems(text: string): FleetProblem[] {
  try {
    parseFleet(text, "fleet.yaml");
  } catch (err) {
    if (err instanceof FleetError) return [...err.problems];
    throw err;
  }
  return [];
}

type Obj = {
  kind: string;
  metadata: { name: string; annotations?: Record<string, string> };
  spec: any;
};
function objects(text: string): Obj[] {
  return [...synthFleet(parseFleet(text, "fleet.yaml")).entries()]
    .filter(([f]) => !f.endsWith("kustomization.yaml"))
    .flatMap(([, t]) => parseAllDocuments(t).map(d => d.toJS() as Obj));
}

describe("canaries", () => {
  it("are accepted with a selector: TALM checks them against what the selector matches", () => {
    const sel = CGU.replace(
      "      clusters: [sno-1]\n",
      '      selector: {matchLabels: {ibu-wave: "1"}}\n      canaries: [sno-101]\n',
    );
    expect(problems(sel)).toEqual([]);
    const cgu = objects(sel).find(o => o.kind === "ClusterGroupUpgrade")!;
    expect(cgu.spec.remediationStrategy.canaries).toEqual(["sno-101"]);
    expect(cgu.spec.clusterLabelSelectors).toEqual([{ matchLabels: { "ibu-wave": "1" } }]);
  });

  it("are accepted outside the cluster list of a group that also has a selector", () => {
    const both = CGU.replace(
      "      clusters: [sno-1]\n",
      '      clusters: [sno-1]\n      selector: {matchLabels: {ibu-wave: "1"}}\n      canaries: [sno-101]\n',
    );
    expect(problems(both)).toEqual([]);
  });

  it("are refused outside the cluster list of a group without a selector", () => {
    const p = problems(
      CGU.replace(
        "      clusters: [sno-1]\n",
        "      clusters: [sno-1]\n      canaries: [sno-9]\n",
      ),
    );
    expect(p).toEqual([
      expect.objectContaining({
        path: "spec.groups[0].canaries[0]",
        message: expect.stringMatching(/canary sno-9 is not in this group's clusters/),
      }),
    ]);
  });

  it("are refused in the ibgu flavour (TALM's IBGU has none)", () => {
    const p = problems(
      IBGU.replace("      stage: Upgrade\n", "      stage: Upgrade\n      canaries: [sno-1]\n"),
    );
    expect(p.map(x => x.path)).toEqual(["spec.groups[0].canaries"]);
  });
});

describe("names OCM derives from ours", () => {
  it("refuses a policy prefix whose Placement names would not fit OCM's placement label", () => {
    // A one-letter namespace keeps ACM's namespace + name rule (62) out of the way; TALM's
    // budget for CGU names refuses such a prefix as well (load.ts reports that one first).
    const spec = { policyName: "p".repeat(32), hub: { policyNamespace: "z" } } as FleetSpec;
    expect(derivedNameProblems(spec)).toEqual([
      {
        path: ["spec", "policyName"],
        message: expect.stringMatching(
          /Placement placement-p+-extra-manifests-policy is 65 characters.*cluster\.open-cluster-management\.io\/placement/,
        ),
      },
    ]);
    expect(derivedNameProblems({ ...spec, policyName: "p".repeat(29) })).toEqual([]);
    expect(
      problems(CGU.replace("spec:\n", `spec:\n  policyName: ${"p".repeat(32)}\n`)).map(x => x.path),
    ).toContain("spec.policyName");
  });
});

describe("hub.ownedNamespaces", () => {
  it("names only namespaces the fleet writes into, never default", () => {
    const p = problems(
      CGU.replace(
        "spec:\n",
        "spec:\n  hub:\n    ownedNamespaces: [default, elsewhere, ztp-group]\n",
      ),
    );
    expect(p.map(x => [x.path, x.message])).toEqual([
      ["spec.hub.ownedNamespaces[0]", expect.stringMatching(/cannot be owned/)],
      [
        "spec.hub.ownedNamespaces[1]",
        expect.stringMatching(
          /elsewhere is not a namespace this fleet writes into \(default, ztp-group\)/,
        ),
      ],
    ]);
  });
});

describe("what ZTP users set", () => {
  it("passes ibuAnnotations to the IBU: on the IBGU for TALM to copy, and in the prep policy's IBU", () => {
    const ann =
      'spec:\n  ibuAnnotations:\n    lca.openshift.io/target-ocp-version-manifest-count: "3"\n';
    const ibgu = objects(IBGU.replace("spec:\n", ann)).find(
      o => o.kind === "ImageBasedGroupUpgrade",
    )!;
    expect(ibgu.metadata.annotations).toMatchObject({
      "lca.openshift.io/target-ocp-version-manifest-count": "3",
    });
    const prep = objects(CGU.replace("spec:\n", ann)).find(
      o => o.kind === "Policy" && o.metadata.name === "group-ibu-prep-stage-policy",
    )!;
    const ibu =
      prep.spec["policy-templates"][0].objectDefinition.spec["object-templates"][0]
        .objectDefinition;
    expect(ibu.metadata.annotations).toEqual({
      "lca.openshift.io/target-ocp-version-manifest-count": "3",
    });
  });

  it("refuses annotations LCA would not read and keys another field sets", () => {
    const p = problems(
      CGU.replace(
        "spec:\n",
        'spec:\n  ibuAnnotations:\n    example.com/x: "1"\n    image-cleanup.lca.openshift.io/on-prep: Disabled\n',
      ),
    );
    expect(p.map(x => [x.path, x.message])).toEqual([
      [
        "spec.ibuAnnotations.example.com/x",
        expect.stringMatching(/only keys containing lca\.openshift\.io/),
      ],
      [
        "spec.ibuAnnotations.image-cleanup.lca.openshift.io/on-prep",
        expect.stringMatching(/set by spec\.imageCleanup\.onPrep/),
      ],
    ]);
  });

  it("checks an LCA annotation's value as LCA reads it, and a near-miss key gets a did-you-mean", () => {
    const annotations = (lines: string[]): FleetProblem[] =>
      problems(CGU.replace("spec:\n", `spec:\n  ibuAnnotations:\n${lines.join("")}`));
    const count = "lca.openshift.io/target-ocp-version-manifest-count";
    // LCA compares the count with strconv.Itoa(n) as text: only Itoa's own form can match.
    for (const bad of ["abc", "03", "+3", "-1", "3 ", ""])
      expect(
        annotations([`    ${count}: ${JSON.stringify(bad)}\n`]).map(x => [
          x.line,
          x.path,
          x.message,
        ]),
        bad,
      ).toEqual([
        [7, `spec.ibuAnnotations.${count}`, expect.stringMatching(/is not a count such as "3"/)],
      ]);
    expect(
      annotations([`    ${count}: "0"\n`, '    lca.openshift.io/trigger-reconcile: "x"\n']),
    ).toEqual([]);
    expect(
      annotations([
        "    lca.openshift.io/trigger-reconcle: x\n",
        "    extra-manifest.lca.openshift.io/validation-warning: x\n",
        "    future.lca.openshift.io/something-new: x\n",
      ]).map(x => [x.line, x.message]),
    ).toEqual([
      [
        7,
        "LCA reads no annotation lca.openshift.io/trigger-reconcle; did you mean lca.openshift.io/trigger-reconcile?",
      ],
      [8, expect.stringMatching(/is written by LCA/)],
    ]);
  });

  it("sets batchTimeoutAction per stage on the CGUs, and refuses it in the ibgu flavour", () => {
    const rollout =
      "spec:\n  rollout:\n    batchTimeoutAction: Continue\n    upgrade: {batchTimeoutAction: Abort}\n";
    const cgus = objects(CGU.replace("spec:\n", rollout)).filter(
      o => o.kind === "ClusterGroupUpgrade",
    );
    expect(cgus.map(c => c.spec.batchTimeoutAction)).toEqual(["Continue", "Abort"]);
    expect(problems(IBGU.replace("spec:\n", rollout)).map(x => x.path)).toEqual([
      "spec.rollout.upgrade.batchTimeoutAction",
    ]);
  });

  it("sets the policies' severity and evaluation interval, and refuses an interval that is not a duration", () => {
    const defaults =
      "spec:\n  policyDefaults:\n    severity: high\n    evaluationInterval: {compliant: 10m, noncompliant: 30s}\n";
    for (const p of objects(CGU.replace("spec:\n", defaults)).filter(o => o.kind === "Policy")) {
      const cp = p.spec["policy-templates"][0].objectDefinition.spec;
      expect(cp.severity).toBe("high");
      expect(cp.evaluationInterval).toEqual({ compliant: "10m", noncompliant: "30s" });
    }
    const bad = problems(
      CGU.replace(
        "spec:\n",
        "spec:\n  policyDefaults:\n    evaluationInterval: {compliant: soon}\n",
      ),
    );
    expect(bad.map(x => x.path)).toEqual(["spec.policyDefaults.evaluationInterval.compliant"]);
  });
});
