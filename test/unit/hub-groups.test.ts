// Group and batch of each cluster from TALM's CGUs and IBGUs; label selectors.
import { describe, expect, it } from "vitest";
import {
  assignGroup,
  GROUP_LABEL,
  matchesLegacySelector,
  matchesSelector,
  parseSelector,
  toUpgradeObject,
  TARGET_VERSION_ANNOTATION,
  type UpgradeObject,
} from "../../addon/hub/groups.js";

const cgu = (
  name: string,
  o: { labels?: object; spec?: object; status?: object; created?: string },
) => ({
  apiVersion: "ran.openshift.io/v1alpha1",
  kind: "ClusterGroupUpgrade",
  metadata: {
    name,
    namespace: "default",
    labels: o.labels ?? { "ibu-gitops.dev/group": "g" },
    creationTimestamp: o.created ?? "2025-01-01T00:00:00Z",
  },
  spec: o.spec ?? {},
  status: o.status ?? {},
});

describe("label selectors", () => {
  const labels = { env: "prod", "group-du-sno": "", zone: "a" };
  it.each([
    [{}, true],
    [{ matchLabels: { env: "prod" } }, true],
    [{ matchLabels: { env: "dev" } }, false],
    [{ matchExpressions: [{ key: "zone", operator: "In", values: ["a", "b"] }] }, true],
    [{ matchExpressions: [{ key: "zone", operator: "NotIn", values: ["a"] }] }, false],
    [{ matchExpressions: [{ key: "missing", operator: "NotIn", values: ["a"] }] }, true],
    [{ matchExpressions: [{ key: "group-du-sno", operator: "Exists" }] }, true],
    [{ matchExpressions: [{ key: "env", operator: "DoesNotExist" }] }, false],
    [{ matchExpressions: [{ key: "env", operator: "Gt", values: ["1"] }] }, false],
  ])("%j → %s", (sel, want) => expect(matchesSelector(labels, sel)).toBe(want));

  it("reads the deprecated clusterSelector strings", () => {
    expect(matchesLegacySelector(labels, "env=prod")).toBe(true);
    expect(matchesLegacySelector(labels, "group-du-sno")).toBe(true);
    expect(matchesLegacySelector(labels, "env=dev")).toBe(false);
    expect(matchesLegacySelector(labels, "a=b=c")).toBe(false);
  });

  it("parses kubectl selector strings", () => {
    const sel = parseSelector("env=prod,zone in (a,b),!legacy,tier!=db,ibu-gitops.dev/test");
    expect(sel).toEqual({
      matchLabels: { env: "prod" },
      matchExpressions: [
        { key: "zone", operator: "In", values: ["a", "b"] },
        { key: "legacy", operator: "DoesNotExist" },
        { key: "tier", operator: "NotIn", values: ["db"] },
        { key: "ibu-gitops.dev/test", operator: "Exists" },
      ],
    });
    expect(() => parseSelector("a=(")).toThrow(/cannot read/);
  });
});

describe("group assignment", () => {
  const upgrades = (...objs: object[]): UpgradeObject[] =>
    objs.map(o => toUpgradeObject(o)).filter((u): u is UpgradeObject => u !== undefined);
  const noIbgu = (): undefined => undefined;

  it("ignores CGUs that are not ours", () => {
    expect(toUpgradeObject(cgu("x", { labels: {} }))).toBeUndefined();
  });

  it("finds the batch in the remediation plan and the current batch", () => {
    const u = upgrades(
      cgu("ibu-g-upgrade-4-18", {
        spec: { clusters: ["c1", "c2", "c3"] },
        status: {
          remediationPlan: [["c1"], ["c2", "c3"]],
          status: { currentBatch: 2 },
          conditions: [{ type: "Progressing", status: "True" }],
        },
      }),
    );
    expect(assignGroup("c3", {}, u, noIbgu)).toEqual({
      group: "g",
      upgrade: "default/ibu-g-upgrade-4-18",
      kind: "ClusterGroupUpgrade",
      batch: 2,
      currentBatch: 2,
    });
    expect(assignGroup("c9", {}, u, noIbgu)).toBeUndefined();
  });

  it("takes a generated CGU's target version from its annotation (the finalized IBU names none)", () => {
    const raw = cgu("g-fin-abcd", { spec: { clusters: ["c1"] } });
    const annotated = {
      ...raw,
      metadata: { ...raw.metadata, annotations: { [TARGET_VERSION_ANNOTATION]: "4.18.1" } },
    };
    expect(assignGroup("c1", {}, upgrades(annotated), noIbgu)?.targetVersion).toBe("4.18.1");
    expect(assignGroup("c1", {}, upgrades(raw), noIbgu)?.targetVersion).toBeUndefined();
  });

  it("matches clusterLabelSelectors against ManagedCluster labels, ORed", () => {
    const u = upgrades(
      cgu("p", {
        spec: {
          clusterLabelSelectors: [{ matchLabels: { site: "x" } }, { matchLabels: { site: "y" } }],
        },
      }),
    );
    expect(assignGroup("c", { site: "y" }, u, noIbgu)?.group).toBe("g");
    expect(assignGroup("c", { site: "z" }, u, noIbgu)).toBeUndefined();
    expect(assignGroup("c", undefined, u, noIbgu)).toBeUndefined();
  });

  it("prefers the CGU in progress, then the newest", () => {
    const u = upgrades(
      cgu("old", {
        labels: { "ibu-gitops.dev/group": "a" },
        spec: { clusters: ["c"] },
        created: "2025-01-01T00:00:00Z",
      }),
      cgu("new", {
        labels: { "ibu-gitops.dev/group": "b" },
        spec: { clusters: ["c"] },
        created: "2025-02-01T00:00:00Z",
      }),
    );
    expect(assignGroup("c", {}, u, noIbgu)?.group).toBe("b");
    const running = upgrades(
      ...[
        cgu("old", {
          labels: { "ibu-gitops.dev/group": "a" },
          spec: { clusters: ["c"] },
          status: { conditions: [{ type: "Progressing", status: "True" }] },
        }),
        cgu("new", {
          labels: { "ibu-gitops.dev/group": "b" },
          spec: { clusters: ["c"] },
          created: "2025-02-01T00:00:00Z",
        }),
      ],
    );
    expect(assignGroup("c", {}, running, noIbgu)?.group).toBe("a");
  });

  it("resolves the group of an IBGU's CGU through the IBGU", () => {
    const u = upgrades(
      cgu("ibu-g-4-18-prep-0", {
        labels: { ibgu: "ibu-g-4-18" },
        spec: { clusterLabelSelectors: [{ matchLabels: { site: "x" } }] },
        status: { remediationPlan: [["c"]], status: { currentBatch: 1 } },
      }),
    );
    const ibgu = toUpgradeObject({
      kind: "ImageBasedGroupUpgrade",
      metadata: { name: "ibu-g-4-18", namespace: "default", labels: { [GROUP_LABEL]: "grp" } },
      spec: { ibuSpec: { seedImageRef: { version: "4.18.1" } } },
    });
    const a = assignGroup("c", { site: "x" }, u, (ns, name) =>
      ns === "default" && name === "ibu-g-4-18" ? ibgu : undefined,
    );
    // The IBGU names the group and the seed version its clusters go to.
    expect(a).toMatchObject({ group: "grp", batch: 1, currentBatch: 1, targetVersion: "4.18.1" });
  });
});
