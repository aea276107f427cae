// The seed image format LCA reads (format version 4): its labels, its files, and the seed
// cluster information stored as JSON in a label and in manifest.json.
export const SEED_FORMAT_VERSION = "4";
export const LABEL_FORMAT_VERSION = "com.openshift.lifecycle-agent.seed_format_version";
export const LABEL_CLUSTER_INFO = "com.openshift.lifecycle-agent.seed_cluster_info";

/** Files at the root of a seed image. */
export const SeedFile = {
  manifest: "manifest.json",
  containersList: "containers.list",
  ostree: "ostree.tgz",
  var: "var.tgz",
  etc: "etc.tgz",
  etcDeletions: "etc.deletions",
  rpmOstree: "rpm-ostree.json",
  mcoConfig: "mco-currentconfig.json",
} as const;

/** LCA's SeedClusterInfo keys. */
export interface SeedClusterInfo {
  seed_cluster_ocp_version: string;
  base_domain: string;
  cluster_name: string;
  node_ips: string[];
  release_registry: string;
  mirror_registry_configured: boolean;
  sno_hostname: string;
  recert_image_pull_spec: string;
  has_proxy: boolean;
  cluster_network_cidr: string;
  service_network_cidr: string;
  has_fips: boolean;
  additionalTrustBundle: { hasUserCaBundle: boolean; proxyConfigmapName: string };
  container_storage_mountpoint_target: string;
  ingress_certificate_cn: string;
  machine_networks: string[];
}

export function defaultClusterInfo(version: string): SeedClusterInfo {
  return {
    seed_cluster_ocp_version: version,
    base_domain: "example.com",
    cluster_name: "seed",
    node_ips: ["192.0.2.10"],
    release_registry: "quay.io",
    mirror_registry_configured: false,
    sno_hostname: "seed",
    recert_image_pull_spec: "quay.io/edge-infrastructure/recert:latest",
    has_proxy: false,
    cluster_network_cidr: "10.128.0.0/14",
    service_network_cidr: "172.30.0.0/16",
    has_fips: false,
    additionalTrustBundle: { hasUserCaBundle: false, proxyConfigmapName: "" },
    container_storage_mountpoint_target: "/var/lib/containers",
    ingress_certificate_cn: "ingress-operator@seed",
    machine_networks: ["192.0.2.0/24"],
  };
}

/** LCA's stateroot name for a version: rhcos_<version with '-' as '_'>. */
export function staterootName(version: string): string {
  return `rhcos_${version.replace(/-/g, "_")}`;
}
