// An OpenShift-like PKI for test sysroots, made with the real openssl CLI (independent of the
// agent's own crypto code): the API server's serving signers and certificates, the admin
// kubeconfig's client CA (its key kept outside the cluster, as the installer does), an ingress
// CA, kubelet and etcd chains with an intermediate, a service-account key pair, bundles, a
// kubeconfig with embedded data, and kubelet's combined cert+key files.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "../../addon/agent/exec.js";

export interface PkiIdentity {
  readonly hostname: string;
  readonly clusterName: string;
  readonly baseDomain: string;
  readonly ip: string;
}

/** What a cluster's admin holds outside the cluster: the admin kubeconfig's client cert. */
export interface AdminCredentials {
  readonly clientCert: string;
  readonly clientKey: string;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
const RSA = ["-newkey", "rsa:2048"];

export interface Issued {
  readonly crt: string;
  readonly key: string;
}

export async function issue(
  dir: string,
  name: string,
  subj: string,
  opts: {
    issuer?: Issued;
    ca?: boolean;
    days?: number;
    rsa?: boolean;
    sans?: readonly string[];
    usage?: "server" | "client";
  } = {},
): Promise<Issued> {
  const crt = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const ext = opts.ca
    ? ["basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign"]
    : [
        "basicConstraints=critical,CA:FALSE",
        "keyUsage=critical,digitalSignature,keyEncipherment",
        `extendedKeyUsage=${opts.usage === "client" ? "clientAuth" : "serverAuth,clientAuth"}`,
        ...(opts.sans?.length ? [`subjectAltName=${opts.sans.join(",")}`] : []),
      ];
  await run("openssl", [
    "req",
    "-x509",
    ...(opts.rsa ? RSA : EC),
    "-nodes",
    "-keyout",
    key,
    "-out",
    crt,
    "-days",
    String(opts.days ?? 3650),
    "-subj",
    subj,
    ...(opts.issuer ? ["-CA", opts.issuer.crt, "-CAkey", opts.issuer.key] : []),
    ...ext.flatMap(e => ["-addext", e]),
  ]);
  return { crt, key };
}

const read = (f: string): string => readFileSync(f, "utf8");

/**
 * Writes the PKI of the cluster `id` into a deployment's /etc/kubernetes and a stateroot's
 * /var/lib/kubelet; the admin's client credentials go to `adminDir`, outside the sysroot.
 */
export async function writeClusterPki(
  etcKubernetes: string,
  varLibKubelet: string,
  id: PkiIdentity,
  adminDir: string,
): Promise<AdminCredentials> {
  const pki = join(etcKubernetes, "pki");
  const kubeletPki = join(varLibKubelet, "pki");
  for (const d of [pki, kubeletPki, adminDir]) mkdirSync(d, { recursive: true });
  const domain = `${id.clusterName}.${id.baseDomain}`;
  const [lb, localhost, serviceNetwork, admin, ingress, kubelet, etcd] = await Promise.all([
    issue(pki, "lb-signer", "/OU=openshift/CN=kube-apiserver-lb-signer", { ca: true, rsa: true }),
    issue(pki, "localhost-signer", "/OU=openshift/CN=kube-apiserver-localhost-signer", {
      ca: true,
    }),
    issue(pki, "service-network-signer", "/OU=openshift/CN=kube-apiserver-service-network-signer", {
      ca: true,
    }),
    issue(adminDir, "admin-kubeconfig-signer", "/OU=openshift/CN=admin-kubeconfig-signer", {
      ca: true,
    }),
    issue(pki, "ingress-ca", "/CN=ingress-operator@1700000000", { ca: true }),
    issue(pki, "kubelet-signer", "/OU=openshift/CN=kubelet-signer", { ca: true, days: 365 }),
    issue(pki, "etcd-signer", "/OU=openshift/CN=etcd-signer", { ca: true }),
  ]);
  const csrSigner = await issue(pki, "kube-csr-signer", "/CN=kube-csr-signer", {
    ca: true,
    issuer: kubelet,
    days: 60,
  });
  await Promise.all([
    issue(pki, "apiserver-lb-serving", `/CN=api.${domain}`, {
      issuer: lb,
      sans: [`DNS:api.${domain}`, `DNS:api-int.${domain}`],
    }),
    issue(pki, "localhost-serving", "/CN=127.0.0.1", {
      issuer: localhost,
      sans: ["DNS:localhost", "IP:127.0.0.1"],
    }),
    issue(pki, "service-network-serving", "/CN=172.30.0.1", {
      issuer: serviceNetwork,
      sans: ["DNS:kubernetes.default.svc", "IP:172.30.0.1"],
    }),
    issue(pki, "ingress-wildcard", `/CN=*.apps.${domain}`, {
      issuer: ingress,
      sans: [`DNS:*.apps.${domain}`],
    }),
    issue(pki, "etcd-serving", `/O=system:etcd-servers/CN=system:etcd-server:${id.hostname}`, {
      issuer: etcd,
      sans: [`DNS:${id.hostname}`, `DNS:localhost`, `IP:${id.ip}`, "IP:127.0.0.1"],
    }),
    issue(kubeletPki, "client", `/O=system:nodes/CN=system:node:${id.hostname}`, {
      issuer: csrSigner,
      days: 30,
      usage: "client",
    }),
    issue(kubeletPki, "server", `/O=system:nodes/CN=system:node:${id.hostname}`, {
      issuer: csrSigner,
      days: 20,
      sans: [`DNS:${id.hostname}`, `IP:${id.ip}`],
    }),
    issue(adminDir, "admin", "/O=system:masters/CN=system:admin", {
      issuer: admin,
      usage: "client",
    }),
  ]);
  // Key formats as a cluster has them: PKCS#1 RSA, SEC1 EC, PKCS#8 elsewhere.
  await run("openssl", ["rsa", "-in", lb.key, "-traditional", "-out", lb.key]);
  await run("openssl", ["ec", "-in", kubelet.key, "-out", kubelet.key]);
  // The service-account token signing pair.
  const sa = join(pki, "service-account.key");
  await run("openssl", [
    "genpkey",
    "-algorithm",
    "RSA",
    "-pkeyopt",
    "rsa_keygen_bits:2048",
    "-out",
    sa,
  ]);
  await run("openssl", ["pkey", "-in", sa, "-pubout", "-out", join(pki, "service-account.pub")]);
  // The cluster carries the admin CA's certificate only.
  writeFileSync(join(pki, "admin-kubeconfig-ca.crt"), read(admin.crt));
  writeFileSync(
    join(pki, "ca-bundle.crt"),
    [lb, localhost, serviceNetwork].map(x => read(x.crt)).join(""),
  );
  writeFileSync(join(pki, "client-ca-bundle.crt"), read(admin.crt) + read(csrSigner.crt));
  // Kubelet's rotated certificates: certificate and key in one file.
  for (const n of ["client", "server"]) {
    const base = join(kubeletPki, n);
    writeFileSync(
      join(kubeletPki, `kubelet-${n}-current.pem`),
      read(`${base}.crt`) + read(`${base}.key`),
      { mode: 0o600 },
    );
    rmSync(`${base}.crt`);
    rmSync(`${base}.key`);
  }
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  const client = read(join(kubeletPki, "kubelet-client-current.pem"));
  const [clientCert] = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/.exec(
    client,
  ) ?? [""];
  const [clientKey] = /-----BEGIN PRIVATE KEY-----[\s\S]*?-----END PRIVATE KEY-----\n/.exec(
    client,
  ) ?? [""];
  writeFileSync(
    join(etcKubernetes, "kubeconfig"),
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "  - name: local",
      "    cluster:",
      `      server: https://api-int.${domain}:6443`,
      `      certificate-authority-data: ${b64(read(join(pki, "ca-bundle.crt")))}`,
      "users:",
      "  - name: kubelet",
      "    user:",
      `      client-certificate-data: ${b64(clientCert)}`,
      `      client-key-data: ${b64(clientKey)}`,
      "contexts:",
      "  - name: kubelet",
      "    context: { cluster: local, user: kubelet }",
      "current-context: kubelet",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  return { clientCert: join(adminDir, "admin.crt"), clientKey: join(adminDir, "admin.key") };
}
