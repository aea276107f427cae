// Our ImageBasedUpgrade CRD against the Lifecycle Agent's: the same sequence of valid and
// invalid writes goes to a cluster with LCA's CRD (from its Go module) and one with ours, and
// every step must be accepted or rejected alike, with the same message.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestCluster } from "../support/cluster.js";
import { ControlPlane } from "../support/controlplane.js";
import { loadOwnCrds, loadThirdPartyCrds } from "../support/crds.js";

type Step = {
  what: string;
  method: "POST" | "PUT";
  status?: boolean;
  body: (rv?: string) => object;
};

const BASE = "/apis/lca.openshift.io/v1/imagebasedupgrades";
const seed = { image: "registry.example.com/seed:4.18.1", version: "4.18.1" };
const ibu = (spec: object, rv?: string): object => ({
  apiVersion: "lca.openshift.io/v1",
  kind: "ImageBasedUpgrade",
  metadata: { name: "upgrade", ...(rv ? { resourceVersion: rv } : {}) },
  spec,
});
const withStatus = (spec: object, status: object) => (rv?: string) => ({
  ...ibu(spec, rv),
  status,
});
const cond = (type: string, status: string, reason: string) => ({
  type,
  status,
  reason,
  message: reason,
  lastTransitionTime: "2026-11-26T10:00:00Z",
});

const prepSpec = {
  stage: "Prep",
  seedImageRef: seed,
  oadpContent: [{ name: "oadp-cm", namespace: "openshift-adp" }],
};
const prepStatus = {
  conditions: [cond("Idle", "False", "InProgress"), cond("PrepInProgress", "True", "InProgress")],
  validNextStages: ["Idle"],
};

const STEPS: Step[] = [
  {
    what: "a second IBU with another name",
    method: "POST",
    body: () => ({ ...ibu({ stage: "Idle" }), metadata: { name: "other" } }),
  },
  { what: "an unknown stage", method: "POST", body: () => ibu({ stage: "Finalize" }) },
  {
    what: "an empty seed image",
    method: "POST",
    body: () => ibu({ stage: "Idle", seedImageRef: { image: "", version: "4.18.1" } }),
  },
  {
    what: "a negative init-monitor timeout",
    method: "POST",
    body: () => ibu({ stage: "Idle", autoRollbackOnFailure: { initMonitorTimeoutSeconds: -1 } }),
  },
  { what: "the singleton, at Idle", method: "POST", body: () => ibu({ stage: "Idle" }) },
  {
    what: "any change before the first status",
    method: "PUT",
    body: rv => ibu({ stage: "Upgrade" }, rv),
  },
  {
    what: "status Idle, next Prep",
    method: "PUT",
    status: true,
    body: withStatus(
      { stage: "Upgrade" },
      { conditions: [cond("Idle", "True", "Idle")], validNextStages: ["Prep"] },
    ),
  },
  {
    what: "staying at the same stage",
    method: "PUT",
    body: rv => ibu({ stage: "Upgrade", seedImageRef: seed }, rv),
  },
  {
    what: "Upgrade → Rollback, not offered",
    method: "PUT",
    body: rv => ibu({ stage: "Rollback" }, rv),
  },
  { what: "→ Prep with a seed, offered", method: "PUT", body: rv => ibu(prepSpec, rv) },
  {
    what: "status Prep in progress",
    method: "PUT",
    status: true,
    body: withStatus(prepSpec, prepStatus),
  },
  {
    what: "a new seed during Prep",
    method: "PUT",
    body: rv => ibu({ ...prepSpec, seedImageRef: { ...seed, version: "4.18.2" } }, rv),
  },
  {
    what: "new OADP content during Prep",
    method: "PUT",
    body: rv => ibu({ ...prepSpec, oadpContent: [] }, rv),
  },
  {
    what: "extra manifests added during Prep",
    method: "PUT",
    body: rv => ibu({ ...prepSpec, extraManifests: [{ name: "x", namespace: "y" }] }, rv),
  },
  {
    what: "auto-rollback added during Prep",
    method: "PUT",
    body: rv => ibu({ ...prepSpec, autoRollbackOnFailure: { initMonitorTimeoutSeconds: 60 } }, rv),
  },
  {
    what: "Prep → Upgrade while only Idle is offered",
    method: "PUT",
    body: rv => ibu({ ...prepSpec, stage: "Upgrade" }, rv),
  },
  {
    what: "cancel: → Idle, dropping the seed",
    method: "PUT",
    body: rv => ibu({ stage: "Idle" }, rv),
  },
  {
    what: "status with no next stage",
    method: "PUT",
    status: true,
    body: withStatus({ stage: "Idle" }, { conditions: [cond("Idle", "False", "Aborting")] }),
  },
  {
    what: "any stage change when none is offered",
    method: "PUT",
    body: rv => ibu({ stage: "Prep", seedImageRef: seed }, rv),
  },
  {
    what: "a condition with a bad reason",
    method: "PUT",
    status: true,
    body: withStatus({ stage: "Idle" }, { conditions: [cond("Idle", "True", "not a reason!")] }),
  },
];

async function apply(
  cluster: TestCluster,
  step: Step,
): Promise<{ status: number; message: string }> {
  const current = await cluster.request("GET", `${BASE}/upgrade`);
  const rv =
    current.status === 200
      ? (current.body as { metadata: { resourceVersion: string } }).metadata.resourceVersion
      : undefined;
  const path = step.method === "POST" ? BASE : `${BASE}/upgrade${step.status ? "/status" : ""}`;
  const res = await cluster.request(step.method, path, step.body(rv));
  const message = (res.body as { message?: string }).message ?? "";
  return { status: res.status, message };
}

describe("our ImageBasedUpgrade CRD", () => {
  let cp: ControlPlane;
  beforeAll(async () => {
    cp = await ControlPlane.start({ clusters: ["with-lca", "with-ours"] });
    const lca = (await loadThirdPartyCrds()).filter(
      s => s.crd.metadata.name === "imagebasedupgrades.lca.openshift.io",
    );
    const ours = loadOwnCrds().filter(
      s => s.crd.metadata.name === "imagebasedupgrades.lca.openshift.io",
    );
    expect(lca).toHaveLength(1);
    expect(ours).toHaveLength(1);
    expect(ours[0]!.origin).toBe("addon/crds/lca.openshift.io_imagebasedupgrades.yaml");
    await cp.cluster("with-lca").installCrds([lca[0]!.crd]);
    await cp.cluster("with-ours").installCrds([ours[0]!.crd]);
  });
  afterAll(() => cp?.stop());

  it("accepts and rejects every write as LCA's does, with the same messages", async () => {
    const results: string[] = [];
    let rejected = 0;
    for (const step of STEPS) {
      const [theirs, ours] = [
        await apply(cp.cluster("with-lca"), step),
        await apply(cp.cluster("with-ours"), step),
      ];
      if (theirs.status >= 400) rejected++;
      expect({ step: step.what, ...ours }).toEqual({ step: step.what, ...theirs });
      results.push(`${step.what}: ${theirs.status}`);
    }
    // The sequence really exercises both sides of the rules.
    expect(rejected).toBeGreaterThanOrEqual(11);
    expect(results.filter(r => / 20[01]$/.test(r)).length).toBeGreaterThanOrEqual(7);
  });

  it("serves the same printer columns and short name", async () => {
    const get = async (c: TestCluster): Promise<unknown> => {
      const res = await c.request(
        "GET",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/imagebasedupgrades.lca.openshift.io",
      );
      const crd = res.body as {
        spec: { names: object; versions: Array<{ additionalPrinterColumns: object }> };
      };
      return { names: crd.spec.names, columns: crd.spec.versions[0]!.additionalPrinterColumns };
    };
    expect(await get(cp.cluster("with-ours"))).toEqual(await get(cp.cluster("with-lca")));
  });
});
