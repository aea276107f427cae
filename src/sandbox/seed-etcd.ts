// The etcd a seed stateroot carries, as OpenShift fills it: a real kube-apiserver writes a few
// Secrets and ConfigMaps holding the seed's PKI (a kubeconfig signer from its files, a signer
// only etcd holds and what it signed, a CA bundle, a kubeconfig) and the seed's own kubeadmin
// password, install-config and Infrastructure (its infra ID) into the stateroot's
// /var/lib/etcd, stored as the apiserver stores them (protobuf; JSON for the custom resource).
// For tests and the demo.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeApi } from "../../addon/shared/kube.js";
import { ControlPlane } from "./controlplane.js";
import { issue } from "./pki.js";
import { loadThirdPartyCrds, THIRD_PARTY_MODULES } from "./crds.js";

/** The cluster name (etcd key prefix) the seed's objects are written under. */
export const SEED_ETCD_CLUSTER = "seed";

const b64 = (s: string): string => Buffer.from(s).toString("base64");

/** The seed's kubeadmin password hash (`kube-system/kubeadmin`), which no upgraded cluster keeps. */
export const SEED_KUBEADMIN_HASH = "$2a$10$seedseedseedseedseedseOe7Jj8yq1sHk3m7l0ZC8b3Gm2Jm4nqK";

/** The seed's infra ID (Infrastructure `cluster`, `status.infrastructureName`). */
export const SEED_INFRA_ID = "seed-x7k2p";

/** The seed's install-config (`cluster-config-v1` in kube-system and openshift-etcd). */
export const SEED_INSTALL_CONFIG = [
  "apiVersion: v1",
  "baseDomain: example.com",
  "metadata:",
  "  name: seed",
  "networking:",
  "  machineNetwork:",
  "  - cidr: 192.0.2.0/24",
  "",
].join("\n");

/** What the seed's etcd holds, as OpenShift keeps it (names as OpenShift's). */
async function writeObjects(api: KubeApi, pki: string, extra: string): Promise<void> {
  const read = (f: string): string => readFileSync(f, "utf8");
  const serviceCa = await issue(extra, "service-ca", "/CN=openshift-service-serving-signer@1", {
    ca: true,
  });
  const router = await issue(extra, "router", "/CN=*.apps.seed.example.com", {
    issuer: serviceCa,
    sans: ["DNS:*.apps.seed.example.com"],
  });
  const kubeconfig = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- cluster:",
    `    certificate-authority-data: ${b64(read(join(pki, "lb-signer.crt")))}`,
    "    server: https://api.seed.example.com:6443",
    "  name: lb-ext",
    "",
  ].join("\n");
  const objects: Array<[string, string, object]> = [
    [
      "openshift-kube-apiserver-operator",
      "secrets",
      {
        metadata: { name: "loadbalancer-serving-signer" },
        type: "kubernetes.io/tls",
        data: {
          "tls.crt": b64(read(join(pki, "lb-signer.crt"))),
          "tls.key": b64(read(join(pki, "lb-signer.key"))),
        },
      },
    ],
    [
      "openshift-service-ca",
      "secrets",
      {
        metadata: { name: "signing-key" },
        type: "kubernetes.io/tls",
        data: { "tls.crt": b64(read(serviceCa.crt)), "tls.key": b64(read(serviceCa.key)) },
      },
    ],
    [
      "openshift-ingress",
      "secrets",
      {
        metadata: { name: "router-certs-default" },
        type: "kubernetes.io/tls",
        data: {
          "tls.crt": b64(read(router.crt) + read(serviceCa.crt)),
          "tls.key": b64(read(router.key)),
        },
      },
    ],
    [
      "openshift-kube-apiserver",
      "secrets",
      { metadata: { name: "node-kubeconfigs" }, data: { "lb-ext.kubeconfig": b64(kubeconfig) } },
    ],
    [
      "openshift-config-managed",
      "configmaps",
      { metadata: { name: "service-ca" }, data: { "ca-bundle.crt": read(serviceCa.crt) } },
    ],
    ["default", "secrets", { metadata: { name: "plain" }, data: { password: b64("hunter2") } }],
    [
      "kube-system",
      "secrets",
      { metadata: { name: "kubeadmin" }, data: { kubeadmin: b64(SEED_KUBEADMIN_HASH) } },
    ],
    ...["kube-system", "openshift-etcd"].map(
      ns =>
        [
          ns,
          "configmaps",
          {
            metadata: { name: "cluster-config-v1" },
            data: { "install-config": SEED_INSTALL_CONFIG },
          },
        ] as [string, string, object],
    ),
  ];
  for (const [ns, plural, obj] of objects) {
    await api.request("POST", "/api/v1/namespaces", { metadata: { name: ns } });
    const kind = plural === "secrets" ? "Secret" : "ConfigMap";
    await api.create(`/api/v1/namespaces/${ns}/${plural}`, { apiVersion: "v1", kind, ...obj });
  }
}

/** OpenShift's Infrastructure `cluster` with the seed's infra ID, and its CRD. */
async function writeInfrastructure(cp: ControlPlane, api: KubeApi): Promise<void> {
  const crds = await loadThirdPartyCrds(
    THIRD_PARTY_MODULES.filter(m => m.path === "github.com/openshift/api"),
  );
  await cp
    .cluster(SEED_ETCD_CLUSTER)
    .installCrds(
      crds
        .filter(s => s.crd.metadata.name === "infrastructures.config.openshift.io")
        .map(s => s.crd),
    );
  await createInfrastructure(api, SEED_INFRA_ID);
}

/**
 * Creates OpenShift's Infrastructure `cluster` (platform None) with `infraId` as its
 * `status.infrastructureName`, where the Infrastructure CRD is installed.
 */
export async function createInfrastructure(api: KubeApi, infraId: string): Promise<void> {
  const path = "/apis/config.openshift.io/v1/infrastructures";
  const infra = await api.create<object>(path, {
    apiVersion: "config.openshift.io/v1",
    kind: "Infrastructure",
    metadata: { name: "cluster" },
    spec: { platformSpec: { type: "None" } },
  });
  await api.replace(`${path}/cluster/status`, {
    ...infra,
    status: { infrastructureName: infraId, platform: "None" },
  });
}

/**
 * Fills `dataDir` (a stateroot's /var/lib/etcd) with the seed's objects; `pkiDir` is the
 * seed's /etc/kubernetes/pki. Returns the etcd executable used (the control plane's).
 * `more` may write more objects through the same apiserver.
 */
export async function writeSeedEtcd(
  dataDir: string,
  pkiDir: string,
  /** More objects to write (benchmarks fill etcd to a real cluster's size). */
  more?: (api: KubeApi) => Promise<void>,
): Promise<string> {
  const extra = mkdtempSync(join(tmpdir(), "ibu-seed-etcd-"));
  mkdirSync(dataDir, { recursive: true });
  const cp = await ControlPlane.start({ clusters: [SEED_ETCD_CLUSTER], etcdDataDir: dataDir });
  try {
    const api = new KubeApi(cp.cluster(SEED_ETCD_CLUSTER).kubeConfig());
    await writeObjects(api, pkiDir, extra);
    await writeInfrastructure(cp, api);
    await more?.(api);
    return cp.binaries.etcd;
  } finally {
    await cp.stop();
    rmSync(extra, { recursive: true, force: true });
  }
}
