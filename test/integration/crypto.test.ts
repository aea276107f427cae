// The crypto driver on real PKIs made by openssl: two clusters upgraded from one seed end with
// keys and certificates of their own, every certificate verifies with the real openssl, the
// names are the cluster's, the kubeconfig signers are the cluster's original ones, and a
// crash while applying is finished by running again.
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../addon/agent/exec.js";
import {
  fingerprints,
  identityFromPki,
  pkiProblems,
  recert,
  saveSigners,
  type Identity,
} from "../../addon/agent/drivers/crypto.js";
import { writeClusterPki, type AdminCredentials, type PkiIdentity } from "../support/pki.js";

interface Tree {
  readonly etc: string;
  readonly kubelet: string;
  readonly roots: string[];
}

const tree = (base: string): Tree => {
  const etc = join(base, "etc", "kubernetes");
  const kubelet = join(base, "var", "lib", "kubelet");
  return { etc, kubelet, roots: [etc, kubelet] };
};

const CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Every certificate of a tree, by file, checked by the real openssl against the tree's CAs. */
async function opensslVerifyAll(t: Tree, work: string): Promise<number> {
  const files = [
    ...["lb-signer", "localhost-signer", "service-network-signer", "ingress-ca", "kubelet-signer"]
      .map(n => join(t.etc, "pki", `${n}.crt`))
      .concat(join(t.etc, "pki", "etcd-signer.crt"), join(t.etc, "pki", "admin-kubeconfig-ca.crt")),
  ];
  const roots = join(work, "roots.pem");
  const intermediates = join(work, "intermediates.pem");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(roots, files.map(f => readFileSync(f, "utf8")).join(""));
  writeFileSync(intermediates, readFileSync(join(t.etc, "pki", "kube-csr-signer.crt")));
  const leaves = [
    "apiserver-lb-serving",
    "localhost-serving",
    "service-network-serving",
    "ingress-wildcard",
    "etcd-serving",
    "kube-csr-signer",
  ].map(n => join(t.etc, "pki", `${n}.crt`));
  for (const n of ["client", "server"]) {
    const f = join(work, `kubelet-${n}.crt`);
    writeFileSync(
      f,
      readFileSync(join(t.kubelet, "pki", `kubelet-${n}-current.pem`), "utf8").match(CERT)![0],
    );
    leaves.push(f);
  }
  for (const leaf of leaves) {
    const out = await run("openssl", [
      "verify",
      "-x509_strict",
      "-CAfile",
      roots,
      "-untrusted",
      intermediates,
      leaf,
    ]);
    expect(out.trim()).toBe(`${leaf}: OK`);
  }
  return leaves.length;
}

const sans = (file: string): string =>
  new X509Certificate(readFileSync(file).toString().match(CERT)![0]).subjectAltName ?? "";

describe("crypto regeneration (recert) of a stateroot deployed from a seed", () => {
  let work: string;
  let seed: Tree;
  const seedId: PkiIdentity = {
    hostname: "seed",
    clusterName: "seed",
    baseDomain: "example.com",
    ip: "192.0.2.10",
  };
  const clusters: {
    id: PkiIdentity;
    original: Tree;
    upgraded: Tree;
    admin: AdminCredentials;
    kept: string;
    summary?: ReturnType<typeof recert>;
  }[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "ibu-recert-"));
    seed = tree(join(work, "seed"));
    await writeClusterPki(seed.etc, seed.kubelet, seedId, join(work, "seed-admin"));
    for (const [hostname, ip] of [
      ["sno-a", "192.0.2.21"],
      ["sno-b", "192.0.2.22"],
    ] as const) {
      const id = { hostname, clusterName: `${hostname}-cluster`, baseDomain: "example.com", ip };
      const original = tree(join(work, hostname, "original"));
      const admin = await writeClusterPki(
        original.etc,
        original.kubelet,
        id,
        join(work, hostname, "admin"),
      );
      const upgraded = tree(join(work, hostname, "upgraded"));
      cpSync(join(work, "seed"), join(work, hostname, "upgraded"), { recursive: true });
      clusters.push({ id, original, upgraded, admin, kept: join(work, hostname, "kept") });
    }
  }, 60_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const from: Identity = {
    hostname: seedId.hostname,
    clusterName: seedId.clusterName,
    baseDomain: seedId.baseDomain,
    nodeIps: [seedId.ip],
  };

  it("reads the cluster's identity from its own certificates", () => {
    const [a] = clusters;
    expect(identityFromPki(a!.original.roots, "sno-a")).toEqual({
      hostname: "sno-a",
      clusterName: "sno-a-cluster",
      baseDomain: "example.com",
      nodeIps: ["192.0.2.21"],
    });
  });

  it("gives each cluster upgraded from one seed keys and certificates of its own", async () => {
    for (const c of clusters) {
      expect(saveSigners(c.original.roots, c.kept)).toEqual([
        "admin-kubeconfig-signer",
        "ingress-operator@1700000000",
        "kube-apiserver-lb-signer",
        "kube-apiserver-localhost-signer",
        "kube-apiserver-service-network-signer",
      ]);
      // Private keys of kept signers are root's only.
      expect(statSync(join(c.kept, "kube-apiserver-lb-signer.key")).mode & 0o777).toBe(0o600);
      c.summary = recert({
        roots: c.upgraded.roots,
        from,
        to: identityFromPki(c.original.roots, c.id.hostname),
        keptDir: c.kept,
        stateDir: join(work, c.id.hostname, "state"),
      });
      expect(c.summary.certificates).toBeGreaterThanOrEqual(9);
      expect(c.summary.kept).toHaveLength(5);
      expect(pkiProblems(c.upgraded.roots, c.summary.seedFingerprints)).toEqual([]);
      expect(await opensslVerifyAll(c.upgraded, join(work, c.id.hostname))).toBe(8);
    }
    const [a, b] = clusters.map(c => fingerprints(c.upgraded.roots));
    const s = fingerprints(seed.roots);
    const common = (x: string[], y: string[]): string[] => x.filter(v => y.includes(v));
    expect(common(a!.keys, s.keys)).toEqual([]);
    expect(common(a!.certs, s.certs)).toEqual([]);
    expect(common(b!.keys, s.keys)).toEqual([]);
    expect(common(a!.keys, b!.keys)).toEqual([]);
    expect(common(a!.certs, b!.certs)).toEqual([]);
    expect(a!.keys.length).toBeGreaterThan(10);
  });

  it("names the cluster, not the seed, in every certificate", () => {
    for (const c of clusters) {
      const pki = join(c.upgraded.etc, "pki");
      const etcd = sans(join(pki, "etcd-serving.crt"));
      expect(etcd).toContain(`DNS:${c.id.hostname}`);
      expect(etcd).toContain(`IP Address:${c.id.ip}`);
      expect(etcd).not.toMatch(/seed|192\.0\.2\.10\b/);
      expect(sans(join(pki, "apiserver-lb-serving.crt"))).toBe(
        `DNS:api.${c.id.clusterName}.example.com, DNS:api-int.${c.id.clusterName}.example.com`,
      );
      const server = join(c.upgraded.kubelet, "pki", "kubelet-server-current.pem");
      expect(new X509Certificate(readFileSync(server)).subject).toContain(
        `CN=system:node:${c.id.hostname}`,
      );
      // Names outside the cluster's identity stay as they were.
      expect(sans(join(pki, "localhost-serving.crt"))).toBe("DNS:localhost, IP Address:127.0.0.1");
    }
  });

  it("keeps the cluster's kubeconfig signers, so kubeconfigs made before the upgrade still work", async () => {
    for (const c of clusters) {
      const pki = join(c.upgraded.etc, "pki");
      // The admin's client certificate, never on the node, is accepted by the new client CA bundle.
      expect(
        await run("openssl", [
          "verify",
          "-CAfile",
          join(pki, "client-ca-bundle.crt"),
          c.admin.clientCert,
        ]),
      ).toContain(": OK");
      // A client holding the original CA bundle trusts the upgraded API server.
      expect(
        await run("openssl", [
          "verify",
          "-CAfile",
          join(c.original.etc, "pki", "ca-bundle.crt"),
          join(pki, "apiserver-lb-serving.crt"),
        ]),
      ).toContain(": OK");
    }
  });

  it("rewrites kubeconfig data and combined cert+key files with matching pairs, keeping file modes", () => {
    for (const c of clusters) {
      const kubeconfig = readFileSync(join(c.upgraded.etc, "kubeconfig"), "utf8");
      const data = (k: string): string =>
        Buffer.from(new RegExp(`${k}: (\\S+)`).exec(kubeconfig)![1]!, "base64").toString();
      const cert = new X509Certificate(data("client-certificate-data"));
      const key = createPrivateKey(data("client-key-data"));
      expect(cert.checkPrivateKey(key)).toBe(true);
      expect(cert.subject).toContain(`CN=system:node:${c.id.hostname}`);
      expect(data("certificate-authority-data")).toBe(
        readFileSync(join(c.upgraded.etc, "pki", "ca-bundle.crt"), "utf8"),
      );
      for (const n of ["client", "server"]) {
        const f = join(c.upgraded.kubelet, "pki", `kubelet-${n}-current.pem`);
        const text = readFileSync(f, "utf8");
        expect(new X509Certificate(text).checkPrivateKey(createPrivateKey(text))).toBe(true);
        expect(statSync(f).mode & 0o777).toBe(0o600);
      }
      // The service-account pair still matches, with a new key.
      const sa = createPrivateKey(readFileSync(join(c.upgraded.etc, "pki", "service-account.key")));
      const pub = createPublicKey(readFileSync(join(c.upgraded.etc, "pki", "service-account.pub")));
      expect(
        createPublicKey(sa)
          .export({ type: "spki", format: "der" })
          .equals(pub.export({ type: "spki", format: "der" })),
      ).toBe(true);
      expect(readFileSync(join(c.upgraded.etc, "pki", "lb-signer.key"), "utf8")).toMatch(
        /^-----BEGIN RSA PRIVATE KEY-----/,
      );
      expect(readFileSync(join(c.upgraded.etc, "pki", "kubelet-signer.key"), "utf8")).toMatch(
        /^-----BEGIN EC PRIVATE KEY-----/,
      );
    }
  });

  it("runs once: a second call changes nothing", () => {
    const c = clusters[0]!;
    const before = fingerprints(c.upgraded.roots);
    const again = recert({
      roots: c.upgraded.roots,
      from,
      to: identityFromPki(c.original.roots, c.id.hostname),
      keptDir: c.kept,
      stateDir: join(work, c.id.hostname, "state"),
    });
    expect(again).toEqual(c.summary);
    expect(fingerprints(c.upgraded.roots)).toEqual(before);
  });

  it("finishes the same plan after a crash in the middle of applying it", async () => {
    const base = join(work, "crash");
    cpSync(join(work, "seed"), base, { recursive: true });
    const t = tree(base);
    const c = clusters[1]!;
    const opts = {
      roots: t.roots,
      from,
      to: identityFromPki(c.original.roots, c.id.hostname),
      keptDir: c.kept,
      stateDir: join(base, "state"),
    };
    expect(() =>
      recert({
        ...opts,
        onApplied: n => {
          if (n === 4) throw new Error("killed");
        },
      }),
    ).toThrow("killed");
    // Half applied: some files are new, some the seed's.
    expect(pkiProblems(t.roots, []).length).toBeGreaterThan(0);
    const summary = recert(opts);
    expect(pkiProblems(t.roots, summary.seedFingerprints)).toEqual([]);
    expect(await opensslVerifyAll(t, base)).toBe(8);
  });
});
