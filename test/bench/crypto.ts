// Benchmark of the crypto driver (our recert): regenerating a cluster PKI of 15 certificates
// and 16 keys (the test fixture's OpenShift-like layout) onto a copy of the seed's, planned,
// staged and applied, against the openssl CLI making new keys of the same types and issuing
// the certificates in the same run (the peer: what a shell-script recert would cost); then the
// same with a seed etcd of a real single-node cluster's size opened offline and rewritten.
// Run: npx tsx test/bench/crypto.ts
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fingerprints, recert, saveSigners } from "../../addon/agent/drivers/crypto.js";
import { run } from "../../addon/agent/exec.js";
import { writeClusterPki } from "../support/pki.js";
import { writeSeedEtcd } from "../../src/sandbox/seed-etcd.js";

const RUNS = 5;
const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

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

  const identities = {
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
  };
  const ours: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const target = join(work, `run-${i}`);
    cpSync(seed, target, { recursive: true });
    const t0 = performance.now();
    recert({
      roots: tree(target),
      ...identities,
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
  // The same PKI files plus a seed etcd of a real SNO's size: the objects OpenShift keeps PKI
  // in (see src/sandbox/seed-etcd.ts), 150 more TLS Secrets and 2,000 ConfigMaps without PKI.
  const seedEtcd = join(seed, "var", "lib", "etcd");
  const etcdBinary = await writeSeedEtcd(seedEtcd, join(seedEtc!, "pki"), async api => {
    const tls = readFileSync(join(seedEtc!, "pki", "apiserver-lb-serving.crt"), "utf8");
    const key = readFileSync(join(seedEtc!, "pki", "apiserver-lb-serving.key"), "utf8");
    await api.request("POST", "/api/v1/namespaces", { metadata: { name: "bench" } });
    const jobs: Array<() => Promise<unknown>> = [];
    for (let i = 0; i < 150; i++)
      jobs.push(() =>
        api.create("/api/v1/namespaces/bench/secrets", {
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: `tls-${i}` },
          data: {
            "tls.crt": Buffer.from(tls).toString("base64"),
            "tls.key": Buffer.from(key).toString("base64"),
          },
        }),
      );
    for (let i = 0; i < 2000; i++)
      jobs.push(() =>
        api.create("/api/v1/namespaces/bench/configmaps", {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: `cm-${i}` },
          data: { config: `value-${i}`.repeat(20) },
        }),
      );
    for (let i = 0; i < jobs.length; i += 20)
      await Promise.all(jobs.slice(i, i + 20).map(j => j()));
  });
  // Each etcd run in a fresh process on the compiled code, as the agent's image runs it, so its
  // wall time and peak RSS are the step's own (Node's own ~40 MiB included).
  const tsc = spawnSync(
    process.execPath,
    [join(REPO, "node_modules", "typescript", "bin", "tsc"), "-p", REPO],
    { encoding: "utf8" },
  );
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}`);
  const compiled = join(REPO, "dist", "addon", "agent", "drivers", "recert-etcd.js");
  const child = [
    `import { recertWithEtcd } from ${JSON.stringify(compiled)};`,
    "import { readFileSync } from 'node:fs';",
    "const t0 = performance.now();",
    "const s = await recertWithEtcd(JSON.parse(process.env.RECERT_OPTS));",
    "const ms = performance.now() - t0;",
    "const hwm = Number(/VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);",
    "console.log(JSON.stringify({ ms, hwm, values: s.etcdValues.length }));",
  ].join("\n");
  const withEtcd: number[] = [];
  const peaks: number[] = [];
  let etcdValues = 0;
  for (let i = 0; i < 3; i++) {
    const target = join(work, `etcd-run-${i}`);
    cpSync(seed, target, { recursive: true });
    const opts = {
      roots: tree(target),
      ...identities,
      keptDir: kept,
      stateDir: join(work, `etcd-state-${i}`),
      dumpDir: join(work, `etcd-dump-${i}`),
      etcd: { dataDir: join(target, "var", "lib", "etcd"), binary: etcdBinary },
    };
    const out = spawnSync(process.execPath, ["--input-type=module", "-e", child], {
      encoding: "utf8",
      env: { ...process.env, RECERT_OPTS: JSON.stringify(opts) },
    });
    if (out.status !== 0) throw new Error(`recert run failed:\n${out.stderr}`);
    const r = JSON.parse(out.stdout.trim().split("\n").at(-1)!) as {
      ms: number;
      hwm: number;
      values: number;
    };
    withEtcd.push(r.ms);
    peaks.push(r.hwm / 1024);
    etcdValues = r.values;
  }
  const o = median(ours);
  const p = median(peer);
  const e = median(withEtcd);
  console.log(
    `crypto regeneration: ${counts.certs.length} certificates, ${counts.keys.length} keys\n` +
      `  ibu-gitops recert (plan, stage, apply): median ${o.toFixed(0)} ms over ${RUNS} runs\n` +
      `  openssl CLI, one process per key (peer): median ${p.toFixed(0)} ms\n` +
      `  ratio (peer / ours): ${(p / o).toFixed(2)}\n` +
      `  with the seed's etcd (2,300 objects, ${etcdValues} PKI values rewritten; etcd run twice):` +
      ` median ${e.toFixed(0)} ms over 3 runs, ${(e - o).toFixed(0)} ms more than the files alone;` +
      ` peak RSS of that process ${Math.min(...peaks).toFixed(0)}–${Math.max(...peaks).toFixed(0)} MiB\n` +
      `  peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
