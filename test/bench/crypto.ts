// Benchmark of the crypto driver (our recert): regenerating a cluster PKI of 15 certificates
// and 16 keys (the test fixture's OpenShift-like layout) onto a copy of the seed's, planned,
// staged and applied, against the openssl CLI making new keys of the same types and issuing
// the certificates in the same run (the peer: what a shell-script recert would cost).
// Run: npx tsx test/bench/crypto.ts
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fingerprints, recert, saveSigners } from "../../addon/agent/drivers/crypto.js";
import { run } from "../../addon/agent/exec.js";
import { writeClusterPki } from "../support/pki.js";

const RUNS = 5;

/** The seed's distinct keys: type, size, and whether a certificate carries them. */
function seedKeys(roots: string[]): Array<{ type: string; bits?: number; cert: boolean }> {
  const keys = new Map<string, { type: string; bits?: number; cert: boolean }>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else
        for (const m of readFileSync(p, "utf8").matchAll(
          /-----BEGIN ([A-Z ]+)-----[\s\S]*?-----END \1-----/g,
        )) {
          const pub =
            m[1] === "CERTIFICATE"
              ? new X509Certificate(m[0]).publicKey
              : m[1]!.endsWith("PRIVATE KEY")
                ? createPublicKey(createPrivateKey(m[0]))
                : undefined;
          if (!pub) continue;
          const id = pub.export({ type: "spki", format: "der" }).toString("base64");
          const prev = keys.get(id);
          keys.set(id, {
            type: pub.asymmetricKeyType ?? "ec",
            ...(pub.asymmetricKeyDetails?.modulusLength
              ? { bits: pub.asymmetricKeyDetails.modulusLength }
              : {}),
            cert: (prev?.cert ?? false) || m[1] === "CERTIFICATE",
          });
        }
    }
  };
  for (const r of roots) walk(r);
  return [...keys.values()];
}
const work = mkdtempSync(join(tmpdir(), "ibu-bench-crypto-"));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  const tree = (base: string): string[] => [
    join(base, "etc", "kubernetes"),
    join(base, "var", "lib", "kubelet"),
  ];
  const seed = join(work, "seed");
  const [seedEtc, seedVar] = tree(seed);
  await writeClusterPki(
    seedEtc!,
    seedVar!,
    { hostname: "seed", clusterName: "seed", baseDomain: "example.com", ip: "192.0.2.10" },
    join(work, "seed-admin"),
  );
  const orig = join(work, "orig");
  const [origEtc, origVar] = tree(orig);
  await writeClusterPki(
    origEtc!,
    origVar!,
    { hostname: "sno-1", clusterName: "sno-1", baseDomain: "example.com", ip: "192.0.2.21" },
    join(work, "orig-admin"),
  );
  const kept = join(work, "kept");
  saveSigners(tree(orig), kept);
  const counts = fingerprints(tree(seed));

  const ours: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const target = join(work, `run-${i}`);
    cpSync(seed, target, { recursive: true });
    const t0 = performance.now();
    recert({
      roots: tree(target),
      from: {
        hostname: "seed",
        clusterName: "seed",
        baseDomain: "example.com",
        nodeIps: ["192.0.2.10"],
      },
      to: {
        hostname: "sno-1",
        clusterName: "sno-1",
        baseDomain: "example.com",
        nodeIps: ["192.0.2.21"],
      },
      keptDir: kept,
      stateDir: join(work, `state-${i}`),
    });
    ours.push(performance.now() - t0);
  }

  // The peer: openssl giving each of the seed's keys a new key of the same type and issuing
  // each certificate again, one process per key (a shell-script recert).
  const keyTypes = seedKeys(tree(seed));
  const peer: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dir = join(work, `openssl-${i}`);
    cpSync(seed, dir, { recursive: true });
    const t0 = performance.now();
    for (const [n, k] of keyTypes.entries()) {
      const newkey =
        k.type === "rsa"
          ? ["-newkey", `rsa:${k.bits}`]
          : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
      const out = ["-keyout", join(dir, `${n}.key`)];
      if (k.cert)
        await run("openssl", [
          "req",
          "-x509",
          ...newkey,
          "-nodes",
          ...out,
          "-out",
          join(dir, `${n}.crt`),
          "-days",
          "365",
          "-subj",
          `/CN=cert-${n}`,
        ]);
      else
        await run("openssl", [
          "genpkey",
          "-algorithm",
          k.type === "rsa" ? "RSA" : "EC",
          ...(k.type === "rsa"
            ? ["-pkeyopt", `rsa_keygen_bits:${k.bits}`]
            : ["-pkeyopt", "ec_paramgen_curve:P-256"]),
          "-out",
          join(dir, `${n}.key`),
        ]);
    }
    peer.push(performance.now() - t0);
  }
  const o = median(ours);
  const p = median(peer);
  console.log(
    `crypto regeneration: ${counts.certs.length} certificates, ${counts.keys.length} keys\n` +
      `  ibu-gitops recert (plan, stage, apply): median ${o.toFixed(0)} ms over ${RUNS} runs\n` +
      `  openssl CLI, one process per key (peer): median ${p.toFixed(0)} ms\n` +
      `  ratio (peer / ours): ${(p / o).toFixed(2)}\n` +
      `  peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
