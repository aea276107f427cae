import { describe, expect, it } from "vitest";
import { customNodeLabels } from "../../../addon/agent/stages/cluster-config.js";

describe("the node labels carried across the pivot (LCA's setNodeLabels)", () => {
  it("keep the node's own labels and leave out the kubelet's and installer's well-known ones", () => {
    expect(
      customNodeLabels({
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": "sno-1",
        "kubernetes.io/os": "linux",
        "node-role.kubernetes.io/control-plane": "",
        "node-role.kubernetes.io/master": "",
        "node-role.kubernetes.io/worker": "",
        "node.openshift.io/os_id": "rhcos",
        "example.com/site": "edge-a",
        "node-role.kubernetes.io/edge": "",
        "topology.kubernetes.io/zone": "z1",
      }),
    ).toEqual({
      "example.com/site": "edge-a",
      "node-role.kubernetes.io/edge": "",
      "topology.kubernetes.io/zone": "z1",
    });
  });

  it("carry nothing when the node has only well-known labels", () => {
    expect(customNodeLabels({ "kubernetes.io/hostname": "sno-1" })).toEqual({});
  });
});
