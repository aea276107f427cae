// Crypto regeneration of what a seed keeps in etcd, on real parts: a real kube-apiserver writes
// the seed's Secrets and ConfigMaps (protobuf, as it stores them) into the etcd data folder of
// the seed's stateroot; the agent's recert opens each upgraded copy with a real etcd, offline,
// and rewrites them; a real kube-apiserver then reads the result back. Two clusters from one
// seed end with signers of their own in etcd, consistent with their PKI files.
import { X509Certificate, createPrivateKey, createPublicKey } from "node:crypto";
import { spawn } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  fingerprintsOf,
  identityFromPki,
  pkiProblems,
  saveSigners,
  type Identity,
} from "../../addon/agent/drivers/crypto.js";
import { etcdDataDir, recertWithEtcd, seedPkiLeft } from "../../addon/agent/drivers/recert-etcd.js";
import { withOfflineEtcd, type EtcdKv } from "../../addon/agent/drivers/etcd.js";
import { carryIntoEtcd, EtcdCarryError } from "../../addon/agent/drivers/etcd-carry.js";
import { decodeStored } from "../../addon/agent/drivers/kproto.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { ControlPlane } from "../support/controlplane.js";
import { writeClusterPki, type PkiIdentity } from "../../src/sandbox/pki.js";
import { SEED_ETCD_CLUSTER, writeSeedEtcd } from "../../src/sandbox/seed-etcd.js";

const CERT = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const b64 = (s: string): string => Buffer.from(s).toString("base64");
const unb64 = (s: string | undefined): string => Buffer.from(s ?? "", "base64").toString("utf8");
const spki = (pem: string): string =>
  createPublicKey(pem).export({ type: "spki", format: "der" }).toString("base64");

type Secret = { data: Record<string, string> };

describe("crypto regeneration of the seed's etcd", () => {
  let work: string;
  let etcdBinary: string;
  const seedId: PkiIdentity = {
    hostname: "seed",
    clusterName: "seed",
    baseDomain: "example.com",
    ip: "192.0.2.10",
  };
  const from: Identity = {
    hostname: "seed",
    clusterName: "seed",
    baseDomain: "example.com",
    nodeIps: ["192.0.2.10"],
  };
  const seedEtc = (): string => join(work, "seed", "etc", "kubernetes");
  const seedVar = (): string => join(work, "seed", "var");
  let seedObjects: Record<string, Secret> = {};

  /** Reads the objects back through a real kube-apiserver serving the etcd folder. */
  async function readBack(dataDir: string): Promise<Record<string, Secret>> {
    const cp = await ControlPlane.start({ clusters: [SEED_ETCD_CLUSTER], etcdDataDir: dataDir });
    try {
      const api = new KubeApi(cp.cluster(SEED_ETCD_CLUSTER).kubeConfig());
      const out: Record<string, Secret> = {};
      for (const path of [
        "openshift-kube-apiserver-operator/secrets/loadbalancer-serving-signer",
        "openshift-service-ca/secrets/signing-key",
        "openshift-ingress/secrets/router-certs-default",
        "openshift-kube-apiserver/secrets/node-kubeconfigs",
        "openshift-config-managed/configmaps/service-ca",
        "default/secrets/plain",
      ]) {
        const [ns, plural, name] = path.split("/");
        const o = await api.get<Secret>(`/api/v1/namespaces/${ns}/${plural}/${name}`);
        if (!o) throw new Error(`${path} cannot be read back`);
        out[path] = o;
      }
      return out;
    } finally {
      await cp.stop();
    }
  }

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "ibu-recert-etcd-"));
    await writeClusterPki(seedEtc(), join(seedVar(), "lib", "kubelet"), seedId, join(work, "a"));
    const dataDir = join(seedVar(), "lib", "etcd");
    etcdBinary = await writeSeedEtcd(dataDir, join(seedEtc(), "pki"));
    expect(etcdDataDir(seedVar())).toBe(dataDir); // the data outlived the control plane
    seedObjects = await readBack(dataDir);
  }, 120_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("gives each cluster signers of its own in etcd, consistent with its files, readable by the apiserver", async () => {
    const results: Array<Record<string, Secret>> = [];
    for (const [hostname, ip] of [
      ["sno-a", "192.0.2.21"],
      ["sno-b", "192.0.2.22"],
    ] as const) {
      const id = { hostname, clusterName: `${hostname}-cluster`, baseDomain: "example.com", ip };
      const base = join(work, hostname);
      const original = {
        etc: join(base, "original", "etc"),
        kubelet: join(base, "original", "kubelet"),
      };
      await writeClusterPki(original.etc, original.kubelet, id, join(base, "admin"));
      const kept = join(base, "kept");
      saveSigners([original.etc, original.kubelet], kept);
      cpSync(join(work, "seed"), join(base, "upgraded"), { recursive: true });
      const etc = join(base, "upgraded", "etc", "kubernetes");
      const varDir = join(base, "upgraded", "var");
      const roots = [etc, join(varDir, "lib", "kubelet")];
      const opts = {
        roots,
        from,
        to: identityFromPki([original.etc, original.kubelet], hostname),
        keptDir: kept,
        stateDir: join(base, "state"),
        dumpDir: join(base, "dump"),
        etcd: { dataDir: etcdDataDir(varDir)!, binary: etcdBinary },
      };
      const summary = await recertWithEtcd(opts);
      // Every value holding the seed's PKI; not the plain Secret, nor the apiserver's own
      // client CA bundle, whose key is not in this etcd (it is left as it is).
      expect(summary.etcdValues).toEqual([
        "configmaps/openshift-config-managed/service-ca:ca-bundle.crt",
        "secrets/openshift-ingress/router-certs-default:tls.crt",
        "secrets/openshift-ingress/router-certs-default:tls.key",
        "secrets/openshift-kube-apiserver-operator/loadbalancer-serving-signer:tls.crt",
        "secrets/openshift-kube-apiserver-operator/loadbalancer-serving-signer:tls.key",
        "secrets/openshift-kube-apiserver/node-kubeconfigs:lb-ext.kubeconfig",
        "secrets/openshift-service-ca/signing-key:tls.crt",
        "secrets/openshift-service-ca/signing-key:tls.key",
      ]);
      expect(pkiProblems(roots, summary.seedFingerprints)).toEqual([]);
      // The dump held private keys: gone. A second run changes nothing.
      expect(existsSync(join(base, "dump", "files"))).toBe(false);
      expect(await recertWithEtcd(opts)).toEqual(summary);

      const got = await readBack(opts.etcd.dataDir);
      results.push(got);
      const sec = (p: string, k: string): string => unb64(got[p]!.data[k]);
      // The kubeconfig signer kept from the cluster stands in for the seed's, key and all.
      const lb = "openshift-kube-apiserver-operator/secrets/loadbalancer-serving-signer";
      expect(sec(lb, "tls.crt").trim()).toBe(
        readFileSync(join(original.etc, "pki", "lb-signer.crt"), "utf8").trim(),
      );
      expect(spki(sec(lb, "tls.key"))).toBe(spki(sec(lb, "tls.crt")));
      expect(
        unb64(got["openshift-kube-apiserver/secrets/node-kubeconfigs"]!.data["lb-ext.kubeconfig"]),
      ).toContain(b64(sec(lb, "tls.crt").trim()).slice(0, 40));
      // The signer only etcd held is new, and what it signed is re-issued by its new key.
      const ca = "openshift-service-ca/secrets/signing-key";
      const caCert = new X509Certificate(sec(ca, "tls.crt"));
      const seedCa = new X509Certificate(unb64(seedObjects[ca]!.data["tls.crt"]));
      expect(caCert.fingerprint256).not.toBe(seedCa.fingerprint256);
      expect(spki(sec(ca, "tls.key"))).not.toBe(spki(unb64(seedObjects[ca]!.data["tls.key"])));
      expect(spki(sec(ca, "tls.key"))).toBe(spki(sec(ca, "tls.crt")));
      const routerPath = "openshift-ingress/secrets/router-certs-default";
      const [leafPem, bundled] = sec(routerPath, "tls.crt").match(CERT)!;
      const leaf = new X509Certificate(leafPem);
      expect(leaf.verify(caCert.publicKey)).toBe(true);
      expect(new X509Certificate(bundled!).fingerprint256).toBe(caCert.fingerprint256);
      expect(spki(sec(routerPath, "tls.key"))).toBe(spki(leafPem));
      expect(Date.parse(leaf.validTo)).toBeGreaterThan(Date.now());
      expect(createPrivateKey(sec(routerPath, "tls.key")).asymmetricKeyType).toBe("ec");
      const bundle = got["openshift-config-managed/configmaps/service-ca"]!.data["ca-bundle.crt"]!;
      expect(new X509Certificate(bundle).fingerprint256).toBe(caCert.fingerprint256);
      // Nothing without PKI is touched.
      expect(got["default/secrets/plain"]!.data).toEqual(
        seedObjects["default/secrets/plain"]!.data,
      );
    }
    const [a, b] = results.map(r =>
      unb64(r["openshift-service-ca/secrets/signing-key"]!.data["tls.key"]),
    );
    expect(spki(a!)).not.toBe(spki(b!));
  }, 180_000);

  it("opens the etcd data again after an agent was killed with etcd running on it", async () => {
    const dataDir = join(work, "killed", "etcd");
    cpSync(join(seedVar(), "lib", "etcd"), dataDir, { recursive: true });
    // What a SIGKILLed agent leaves: its etcd still running, holding the folder, and its PID file.
    const orphan = spawn(etcdBinary, [
      `--data-dir=${dataDir}`,
      "--listen-client-urls=http://127.0.0.1:0",
      "--advertise-client-urls=http://127.0.0.1:2379",
      "--listen-peer-urls=http://127.0.0.1:0",
      "--log-level=error",
    ]);
    const gone = new Promise(r => orphan.once("exit", r));
    writeFileSync(`${dataDir}.ibu-gitops-etcd.pid`, String(orphan.pid));
    await new Promise(r => setTimeout(r, 1000));
    expect(orphan.exitCode).toBeNull(); // it is up and holds the folder
    const keys = await withOfflineEtcd(
      etcdBinary,
      dataDir,
      async etcd => (await etcd.all()).length,
    );
    expect(keys).toBeGreaterThan(5);
    await gone;
    expect(orphan.signalCode).toBe("SIGKILL");
    expect(existsSync(`${dataDir}.ibu-gitops-etcd.pid`)).toBe(false);
  }, 60_000);

  it("carries a cluster's values into a copy of the seed's etcd, idempotently, and refuses a seed without the objects", async () => {
    const dataDir = join(work, "carry", "etcd");
    cpSync(join(seedVar(), "lib", "etcd"), dataDir, { recursive: true });
    const find = (kvs: EtcdKv[], suffix: string): EtcdKv | undefined =>
      kvs.find(kv => kv.key.toString().endsWith(suffix));
    const value = (kv: EtcdKv | undefined, entry: string): string | undefined =>
      kv &&
      decodeStored(kv.value)
        ?.entries.find(e => e.key === entry)
        ?.value.toString();
    const carry = {
      kubeadmin_password_hash: "$2a$10$cluster",
      install_config: "baseDomain: site.example.com\n",
      infra_id: "sno-a-4kq9z",
    };
    const after = await withOfflineEtcd(etcdBinary, dataDir, async etcd => {
      await carryIntoEtcd(etcd, carry);
      const once = await etcd.all();
      await carryIntoEtcd(etcd, carry); // a restart runs it again: nothing changes
      expect(await etcd.all()).toEqual(once);
      return once;
    });
    expect(value(find(after, "/secrets/kube-system/kubeadmin"), "kubeadmin")).toBe(
      "$2a$10$cluster",
    );
    for (const ns of ["kube-system", "openshift-etcd"])
      expect(value(find(after, `/configmaps/${ns}/cluster-config-v1`), "install-config")).toBe(
        carry.install_config,
      );
    const infra = JSON.parse(
      find(after, "/config.openshift.io/infrastructures/cluster")!.value.toString(),
    ) as { status: { infrastructureName: string } };
    expect(infra.status.infrastructureName).toBe("sno-a-4kq9z");
    // A cluster without a kubeadmin Secret: the seed's is deleted; a second pass finds nothing
    // to delete; then a hash has no Secret to go into, which fails, naming it.
    await withOfflineEtcd(etcdBinary, dataDir, async etcd => {
      await carryIntoEtcd(etcd, { kubeadmin_password_hash: "" });
      await carryIntoEtcd(etcd, { kubeadmin_password_hash: "" });
      expect(find(await etcd.all(), "/secrets/kube-system/kubeadmin")).toBeUndefined();
      await expect(carryIntoEtcd(etcd, carry)).rejects.toThrow(
        new EtcdCarryError(
          "couldn't find secrets/kube-system/kubeadmin (data.kubeadmin) in the seed's etcd",
        ),
      );
    });
  }, 60_000);

  it("finds, with the check run after writing back, every value that still holds a seed key or certificate", async () => {
    // On the seed's own etcd every value holding the seed's load-balancer signer is found ...
    const seedCert = readFileSync(join(seedEtc(), "pki", "lb-signer.crt"), "utf8");
    const seedKvs = await withOfflineEtcd(etcdBinary, join(seedVar(), "lib", "etcd"), e => e.all());
    expect(seedPkiLeft(seedKvs, fingerprintsOf(seedCert))).toEqual([
      "secrets/openshift-kube-apiserver-operator/loadbalancer-serving-signer:tls.crt",
      "secrets/openshift-kube-apiserver-operator/loadbalancer-serving-signer:tls.key",
      "secrets/openshift-kube-apiserver/node-kubeconfigs:lb-ext.kubeconfig",
    ]);
    // ... and on an upgraded copy none (recertWithEtcd refuses to finish otherwise).
    const upgraded = join(work, "sno-a", "upgraded", "var", "lib", "etcd");
    const kvs = await withOfflineEtcd(etcdBinary, upgraded, e => e.all());
    expect(seedPkiLeft(kvs, fingerprintsOf(seedCert))).toEqual([]);
  }, 60_000);
});
