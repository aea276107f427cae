// Crypto regeneration of what the seed's etcd holds: OpenShift keeps most of its signers,
// serving certificates, CA bundles and kubeconfigs in Secrets and ConfigMaps, not only in files.
// Before the pivot the new stateroot's etcd is run offline; every Secret or ConfigMap value
// holding PEM (or kubeconfig certificate data) is written out as a file, the same recert pass
// that renews the stateroot's PKI files renews those files too (so a key in a Secret and a
// certificate in /etc/kubernetes stay one consistent PKI), and the changed values are written
// back into etcd. Restartable at every point: the dump is taken once, recert is restartable,
// and writing a value back is idempotent.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fingerprintsOf, recert, type RecertOptions, type RecertSummary } from "./crypto.js";
import { withOfflineEtcd, type EtcdClient, type EtcdKv } from "./etcd.js";
import { decodeStored, rewriteStored } from "./kproto.js";

export interface EtcdRecertOptions extends RecertOptions {
  /** recert's state folder (see recert). */
  readonly stateDir: string;
  /** Where the etcd values are dumped while they are regenerated (private keys: 0700). */
  readonly dumpDir: string;
  /** The stateroot's etcd data folder (`/var/lib/etcd`) and the etcd executable to open it. */
  readonly etcd: { readonly dataDir: string; readonly binary: string };
  /**
   * More writes in the same offline etcd session, after the regenerated values are written
   * back and before the check (the cluster's own values, drivers/etcd-carry.ts). Must be
   * idempotent: a restart runs it again. @default - none
   */
  readonly alsoWrite?: (etcd: EtcdClient) => Promise<void>;
}

interface DumpEntry {
  /** File name under dumpDir/files. */
  readonly file: string;
  /** The etcd key, base64. */
  readonly key: string;
  readonly map: "data" | "binaryData";
  readonly entry: string;
  /** SHA-256 of the value as dumped: a file that differs was regenerated. */
  readonly sha: string;
}

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");
const PKI_TEXT =
  /-----BEGIN [A-Z0-9 ]+-----|(certificate-authority|client-certificate|client-key)-data:/;

/** Whether the stateroot's /var holds an etcd data folder. */
export function etcdDataDir(staterootVar: string): string | undefined {
  const dir = join(staterootVar, "lib", "etcd");
  return existsSync(join(dir, "member")) ? dir : undefined;
}

/**
 * recert over the PKI files and the etcd-held PKI of a stateroot (see the file comment). The
 * summary counts both; `etcdValues` names the Secret/ConfigMap values rewritten
 * (`<resource>/<namespace>/<name>:<key>`).
 */
export async function recertWithEtcd(
  opts: EtcdRecertOptions,
): Promise<RecertSummary & { etcdValues: string[] }> {
  const written = join(opts.dumpDir, "written.json");
  if (existsSync(written))
    return JSON.parse(readFileSync(written, "utf8")) as RecertSummary & { etcdValues: string[] };
  const files = join(opts.dumpDir, "files");
  const indexFile = join(opts.dumpDir, "index.json");
  if (!existsSync(join(opts.stateDir, "done.json")) && !existsSync(indexFile))
    await dump(opts, files, indexFile);
  const index = JSON.parse(readFileSync(indexFile, "utf8")) as DumpEntry[];
  const summary = recert({ ...opts, roots: [...opts.roots, files] });
  const changed = index.filter(e => sha256(readFileSync(join(files, e.file))) !== e.sha);
  const byKey = new Map<string, DumpEntry[]>();
  for (const e of changed) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e]);
  const left = await withOfflineEtcd(opts.etcd.binary, opts.etcd.dataDir, async etcd => {
    for (const [key64, entries] of byKey) {
      const key = Buffer.from(key64, "base64");
      const value = await etcd.get(key);
      if (!value) throw new Error(`etcd key ${key.toString()} disappeared during recert`);
      const next = rewriteStored(value, e => {
        const hit = entries.find(x => x.map === e.map && x.entry === e.key);
        return hit ? readFileSync(join(files, hit.file)) : undefined;
      });
      if (!next.equals(value)) await etcd.put(key, next);
    }
    await opts.alsoWrite?.(etcd);
    return seedPkiLeft(await etcd.all(), summary.seedFingerprints);
  });
  if (left.length)
    throw new EtcdRecertError(
      `the seed's keys or certificates are still in etcd after regenerating them: ${left.slice(0, 3).join(", ")}${left.length > 3 ? ` (and ${left.length - 3} more)` : ""}`,
    );
  const result = {
    ...summary,
    etcdValues: changed.map(e => valueName(Buffer.from(e.key, "base64"), e.entry)),
  };
  writeFileSync(`${written}.tmp`, JSON.stringify(result));
  renameSync(`${written}.tmp`, written);
  // The dump held private keys; they now live only in etcd.
  rmSync(files, { recursive: true, force: true });
  rmSync(indexFile, { force: true });
  return result;
}

/** A check after writing back found the seed's PKI in etcd: the upgrade must not go on. */
export class EtcdRecertError extends Error {}

/**
 * The values (`<resource>/<namespace>/<name>:<key>`) that still hold a seed certificate or key:
 * what the check after writing back reads, every Secret and ConfigMap of the data.
 */
export function seedPkiLeft(kvs: readonly EtcdKv[], seedFingerprints: readonly string[]): string[] {
  const seed = new Set(seedFingerprints);
  const left: string[] = [];
  for (const kv of kvs)
    for (const e of decodeStored(kv.value)?.entries ?? []) {
      const text = e.value.toString("latin1");
      if (!PKI_TEXT.test(text)) continue;
      if (fingerprintsOf(text).some(f => seed.has(f))) left.push(valueName(kv.key, e.key));
    }
  return left;
}

async function dump(opts: EtcdRecertOptions, files: string, indexFile: string): Promise<void> {
  rmSync(files, { recursive: true, force: true });
  mkdirSync(files, { recursive: true, mode: 0o700 });
  const index: DumpEntry[] = [];
  await withOfflineEtcd(opts.etcd.binary, opts.etcd.dataDir, async etcd => {
    for (const kv of await etcd.all()) {
      const obj = decodeStored(kv.value);
      for (const e of obj?.entries ?? []) {
        if (!PKI_TEXT.test(e.value.toString("latin1"))) continue;
        const file = String(index.length);
        writeFileSync(join(files, file), e.value, { mode: 0o600 });
        index.push({
          file,
          key: kv.key.toString("base64"),
          map: e.map,
          entry: e.key,
          sha: sha256(e.value),
        });
      }
    }
  });
  writeFileSync(`${indexFile}.tmp`, JSON.stringify(index));
  renameSync(`${indexFile}.tmp`, indexFile);
}

/** `secrets/<namespace>/<name>:<key>` of a value (etcd keys end in resource/namespace/name). */
function valueName(etcdKey: Buffer, entry: string): string {
  return `${etcdKey.toString("utf8").split("/").slice(-3).join("/")}:${entry}`;
}
