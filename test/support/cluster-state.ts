// What a cluster holds that LCA carries across the pivot or deletes after it, as the agent
// tests set it up, turn it into the seed's while the node is off, and check it afterwards:
// a labelled, annotated image mirror set and content source policy, the SNO node with a label
// of its own; the seed's own mirror set and CatalogSource.
import { expect } from "vitest";
import type { KubeApi } from "../../addon/shared/kube.js";
import type { TestCluster } from "./cluster.js";
import { loadOwnCrds, loadThirdPartyCrds, type Crd } from "./crds.js";
import { OADP_DPA_CRD_STANDIN } from "./velero-fixture.js";

/**
 * Installs what an agent upgrade test's spoke serves: our CRDs, Velero's kinds and the OADP
 * DataProtectionApplication stand-in, the image mirror kinds and CatalogSources, and the
 * third-party CRDs named in `more`.
 */
export async function installAgentCrds(cluster: TestCluster, more: string[] = []): Promise<void> {
  const names = [
    "imagedigestmirrorsets.config.openshift.io",
    "imagecontentsourcepolicies.operator.openshift.io",
    "catalogsources.operators.coreos.com",
    ...more,
  ];
  const thirdParty = (await loadThirdPartyCrds()).filter(
    s => s.crd.spec.group === "velero.io" || names.includes(s.crd.metadata.name),
  );
  await cluster.installCrds([
    ...[...loadOwnCrds(), ...thirdParty].map(s => s.crd),
    OADP_DPA_CRD_STANDIN as unknown as Crd,
  ]);
}

const IDMS = "/apis/config.openshift.io/v1/imagedigestmirrorsets";
const ICSP = "/apis/operator.openshift.io/v1alpha1/imagecontentsourcepolicies";
const CATALOGS =
  "/apis/operators.coreos.com/v1alpha1/namespaces/openshift-marketplace/catalogsources";

type Meta = {
  metadata: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
  };
  spec?: unknown;
};

const mirrors = (source: string, mirror: string): object => ({
  imageDigestMirrors: [{ source, mirrors: [mirror] }],
});

export class ClusterState {
  private readonly node: string;

  /** `node`: the name of the cluster's one (master) Node. */
  constructor(
    private readonly api: KubeApi,
    nodeName: string,
  ) {
    this.node = `/api/v1/nodes/${nodeName}`;
  }

  /** The cluster's own configuration, and its Node (Ready, as LCA's health checks want). */
  async configure(): Promise<void> {
    const api = this.api;
    await api.apply({
      apiVersion: "config.openshift.io/v1",
      kind: "ImageDigestMirrorSet",
      metadata: {
        name: "cluster-mirrors",
        labels: { "example.com/managed-by": "site-policy" },
        annotations: { "example.com/ticket": "OPS-42" },
      },
      spec: mirrors("quay.io/openshift-release-dev", "mirror.example.com/ocp"),
    });
    await api.apply({
      apiVersion: "operator.openshift.io/v1alpha1",
      kind: "ImageContentSourcePolicy",
      metadata: { name: "cluster-icsp", labels: { "example.com/managed-by": "site-policy" } },
      spec: {
        repositoryDigestMirrors: [
          { source: "registry.redhat.io", mirrors: ["mirror.example.com/redhat"] },
        ],
      },
    });
    await api.delete(this.node);
    const name = this.node.split("/").pop()!;
    await api.create("/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name,
        labels: {
          "node-role.kubernetes.io/master": "",
          "kubernetes.io/hostname": name,
          "example.com/site": "edge-a",
        },
      },
    });
    const node = (await api.get<object>(this.node))!;
    const now = new Date().toISOString();
    await api.replace(`${this.node}/status`, {
      ...node,
      status: {
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "KubeletReady",
            message: "set by the test",
            lastHeartbeatTime: now,
            lastTransitionTime: now,
          },
        ],
      },
    });
  }

  /**
   * While the node is off for the pivot, the API state turns into the seed's: the mirror set
   * without the cluster's metadata and with the seed's mirror, no content source policy, a
   * mirror set and a CatalogSource of the seed's own, the Node with the seed's labels only.
   */
  async becomeSeeds(): Promise<void> {
    const api = this.api;
    const idms = (await api.get<Meta>(`${IDMS}/cluster-mirrors`))!;
    await api.replace(`${IDMS}/cluster-mirrors`, {
      apiVersion: "config.openshift.io/v1",
      kind: "ImageDigestMirrorSet",
      metadata: { name: "cluster-mirrors", resourceVersion: idms.metadata.resourceVersion },
      spec: mirrors("quay.io/openshift-release-dev", "seed-mirror.example.com/ocp"),
    });
    await api.delete(`${ICSP}/cluster-icsp`);
    await api.apply({
      apiVersion: "config.openshift.io/v1",
      kind: "ImageDigestMirrorSet",
      metadata: { name: "seed-only-mirrors" },
      spec: mirrors("quay.io/seed", "seed-mirror.example.com/seed"),
    });
    await api.request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: "openshift-marketplace" },
    });
    await api.apply({
      apiVersion: "operators.coreos.com/v1alpha1",
      kind: "CatalogSource",
      metadata: { name: "seed-catalog", namespace: "openshift-marketplace" },
      spec: { sourceType: "grpc", image: "seed-registry.example.com/catalog:4.18" },
    });
    const node = (await api.get<Meta>(this.node))!;
    await api.replace(this.node, {
      ...node,
      metadata: {
        ...node.metadata,
        labels: { "node-role.kubernetes.io/master": "", "kubernetes.io/hostname": "seed" },
      },
    });
  }

  /** What the upgraded cluster must hold of its configuration, and not of the seed's. */
  async expectCarried(): Promise<void> {
    const api = this.api;
    const idms = await api.get<Meta>(`${IDMS}/cluster-mirrors`);
    expect(idms?.metadata.labels).toEqual({ "example.com/managed-by": "site-policy" });
    expect(idms?.metadata.annotations).toEqual({ "example.com/ticket": "OPS-42" });
    expect(idms?.spec).toEqual(mirrors("quay.io/openshift-release-dev", "mirror.example.com/ocp"));
    const icsp = await api.get<Meta>(`${ICSP}/cluster-icsp`);
    expect(icsp?.metadata.labels).toEqual({ "example.com/managed-by": "site-policy" });
    expect(await api.get(`${IDMS}/seed-only-mirrors`)).toBeUndefined();
    expect(await api.get(`${CATALOGS}/seed-catalog`)).toBeUndefined();
    // The node's own label is back; the kubelet's (host name) are the new stateroot's.
    expect((await api.get<Meta>(this.node))?.metadata.labels).toEqual({
      "node-role.kubernetes.io/master": "",
      "kubernetes.io/hostname": "seed",
      "example.com/site": "edge-a",
    });
  }

  async remove(): Promise<void> {
    for (const path of [
      `${IDMS}/cluster-mirrors`,
      `${IDMS}/seed-only-mirrors`,
      `${ICSP}/cluster-icsp`,
      `${CATALOGS}/seed-catalog`,
      this.node,
    ])
      await this.api.delete(path);
  }
}
