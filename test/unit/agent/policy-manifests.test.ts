// LCA's policy manifests and apply-type merge, the pure parts: which version labels match,
// which policies count and in what order, which objects are taken, how a merge keeps fields.
import { describe, expect, it } from "vitest";
import { mergeMustHave } from "../../../addon/agent/stages/apply.js";
import {
  managedPolicies,
  policyObjects,
  targetVersions,
  TARGET_VERSION_LABEL,
  ZTP_DEPLOY_WAVE,
} from "../../../addon/agent/stages/policy-manifests.js";

const cm = (name: string, version?: string, extra: object = {}): object => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    name,
    namespace: "default",
    ...(version ? { labels: { [TARGET_VERSION_LABEL]: version } } : {}),
  },
  data: { name },
  ...extra,
});

const policy = (
  name: string,
  opts: { wave?: string; action?: string; disabled?: boolean; templates?: object[] } = {},
): Parameters<typeof policyObjects>[0] => ({
  metadata: {
    name,
    annotations: opts.wave === undefined ? {} : { [ZTP_DEPLOY_WAVE]: opts.wave },
  },
  spec: {
    remediationAction: opts.action ?? "inform",
    disabled: opts.disabled ?? false,
    "policy-templates": [
      {
        objectDefinition: {
          apiVersion: "policy.open-cluster-management.io/v1",
          kind: "ConfigurationPolicy",
          spec: { "object-templates": opts.templates ?? [] },
        },
      },
    ],
  },
});

describe("policy manifests", () => {
  it("matches X.Y.Z, X.Y and the full version, as LCA does", () => {
    expect(targetVersions("4.18.1")).toEqual(["4.18.1", "4.18"]);
    expect(targetVersions("4.18.0-rc.1")).toEqual(["4.18.0", "4.18", "4.18.0-rc.1"]);
    expect(() => targetVersions("latest")).toThrow(/failed to parse target ocp version latest/);
  });

  it("takes inform policies with a ZTP wave and a replicated name, by wave then name", () => {
    const got = managedPolicies([
      policy("ztp-site.late", { wave: "10" }),
      policy("ztp-site.b-early", { wave: "2" }),
      policy("ztp-site.a-early", { wave: "2" }),
      policy("ztp-site.enforced", { wave: "1", action: "Enforce" }),
      policy("ztp-site.no-wave"),
      policy("not-replicated", { wave: "1" }),
      policy("ztp-site.bad-wave", { wave: "soon" }), // counts as wave 0, as in LCA
    ]).map(p => p.metadata.name);
    expect(got).toEqual([
      "ztp-site.bad-wave",
      "ztp-site.a-early",
      "ztp-site.b-early",
      "ztp-site.late",
    ]);
  });

  it("reads the wave as Go's strconv.Atoi does (LCA's GetPolicies): what Atoi refuses is wave 0", () => {
    const got = managedPolicies([
      policy("ztp-site.w5", { wave: "5" }),
      policy("ztp-site.suffix", { wave: "10abc" }), // parseInt: 10; Atoi: error, so 0
      policy("ztp-site.space", { wave: " 10" }), // parseInt: 10; Atoi: error, so 0
      policy("ztp-site.plus", { wave: "+10" }), // Atoi: 10
      policy("ztp-site.w9", { wave: "9" }),
      policy("ztp-site.huge", { wave: "99999999999999999999" }), // out of range: int64 max
      policy("ztp-site.w11", { wave: "11" }),
    ]).map(p => p.metadata.name);
    expect(got).toEqual([
      "ztp-site.space",
      "ztp-site.suffix",
      "ztp-site.w5",
      "ztp-site.w9",
      "ztp-site.plus",
      "ztp-site.w11",
      "ztp-site.huge",
    ]);
  });

  it("takes the mustHave objects labelled for the target version, without status", () => {
    const p = policy("ztp-site.p", {
      wave: "1",
      templates: [
        { complianceType: "musthave", objectDefinition: cm("minor", "4.18", { status: { x: 1 } }) },
        { complianceType: "MustHave", objectDefinition: cm("patch", "4.18.1") },
        { complianceType: "musthave", objectDefinition: cm("other-release", "4.17") },
        { complianceType: "musthave", objectDefinition: cm("unlabelled") },
        { complianceType: "mustnothave", objectDefinition: cm("removed", "4.18") },
        { complianceType: "mustonlyhave", objectDefinition: cm("exact", "4.18") },
      ],
    });
    const objs = policyObjects(p, targetVersions("4.18.1"));
    expect(objs.map(o => o.metadata?.name)).toEqual(["minor", "patch"]);
    expect(objs[0]).not.toHaveProperty("status");
    expect(policyObjects({ ...p, spec: { ...p.spec, disabled: true } }, ["4.18"])).toEqual([]);
  });
});

describe("apply-type merge (mustHave)", () => {
  it("keeps the existing object's fields and lets the manifest's win", () => {
    const merged = mergeMustHave(
      { metadata: { name: "x", labels: { a: "new" } }, data: { b: "2" } },
      { metadata: { name: "x", labels: { a: "old", keep: "y" }, uid: "u" }, data: { c: "3" } },
    );
    expect(merged).toEqual({
      metadata: { name: "x", labels: { a: "new", keep: "y" }, uid: "u" },
      data: { b: "2", c: "3" },
    });
  });

  it("merges list items by name or containment and keeps the unmatched existing ones", () => {
    const merged = mergeMustHave(
      { spec: { containers: [{ name: "app", image: "v2" }], ports: [80] } },
      {
        spec: {
          containers: [
            { name: "sidecar", image: "s1" },
            { name: "app", image: "v1", args: ["-x"] },
          ],
          ports: [80, 443],
        },
      },
    );
    expect(merged).toEqual({
      spec: {
        containers: [
          { name: "app", image: "v2", args: ["-x"] },
          { name: "sidecar", image: "s1" },
        ],
        ports: [80, 443],
      },
    });
  });
});
