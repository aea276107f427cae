import { describe, expect, it } from "vitest";
import { applyLabelPath } from "../../../addon/agent/stages/oadp.js";

describe("LCA's apply-label entries", () => {
  it("map group/version/resource/[namespace/]name to API paths", () => {
    expect(applyLabelPath("apps/v1/deployments/open-cluster-management-agent/klusterlet")).toBe(
      "/apis/apps/v1/namespaces/open-cluster-management-agent/deployments/klusterlet",
    );
    expect(applyLabelPath("rbac.authorization.k8s.io/v1/clusterroles/klusterlet")).toBe(
      "/apis/rbac.authorization.k8s.io/v1/clusterroles/klusterlet",
    );
    expect(
      applyLabelPath("v1/secrets/open-cluster-management-agent/bootstrap-hub-kubeconfig"),
    ).toBe("/api/v1/namespaces/open-cluster-management-agent/secrets/bootstrap-hub-kubeconfig");
    expect(applyLabelPath(" v1/namespaces/apps ")).toBe("/api/v1/namespaces/apps");
  });

  it("refuses entries that are not group/version/resource/[namespace/]name", () => {
    for (const bad of ["v1/secrets", "apps/v1/deployments", "apps/v1/deployments/a/b/c", "v1//x"])
      expect(() => applyLabelPath(bad)).toThrow(
        /is not group\/version\/resource\/\[namespace\/\]name/,
      );
  });
});
