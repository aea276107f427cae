// The crypto driver: gives a stateroot deployed from a seed this cluster's own keys and
// certificates, as LCA's recert does. Every private key found in the stateroot's PKI folders
// gets a fresh key of the same type; every certificate is issued again — same subject,
// extensions and lifetime, starting now — with its new key, signed by its issuer's new key,
// with the seed's hostname, cluster domain and node IP replaced by this cluster's. The
// signers that kubeconfigs outside the cluster trust (the API server's serving signers, the
// admin kubeconfig's client CA, the ingress CA) are not regenerated: the cluster's own, saved
// from its original stateroot during Prep, take their place, so existing kubeconfigs keep
// working after the upgrade.
//
// PEM files (bundles and cert+key files too) and kubeconfigs with embedded *-data are
// rewritten in place. The work is planned first and staged on disk, then applied file by
// file; a crash while applying is finished by applying the same plan again.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  X509Certificate,
  type KeyObject,
} from "node:crypto";
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { children, decodeTime, encode, encodeTime, readTlv, Tag, type Tlv } from "./der.js";

/** Who a cluster is, as its certificates name it. */
export interface Identity {
  readonly hostname?: string;
  readonly clusterName?: string;
  readonly baseDomain?: string;
  readonly nodeIps?: readonly string[];
}

/** Common names of the signers an upgraded cluster keeps from its original stateroot. */
export const KEPT_SIGNERS: readonly (string | RegExp)[] = [
  "kube-apiserver-lb-signer",
  "kube-apiserver-localhost-signer",
  "kube-apiserver-service-network-signer",
  "admin-kubeconfig-signer",
  /^ingress-operator@/,
];

const isKeptSigner = (cn: string): boolean =>
  KEPT_SIGNERS.some(k => (typeof k === "string" ? k === cn : k.test(cn)));

/** The PKI folders of a stateroot: its deployment's /etc/kubernetes and its /var/lib/kubelet. */
export function pkiRoots(deploymentDir: string, staterootVar: string): string[] {
  return [join(deploymentDir, "etc", "kubernetes"), join(staterootVar, "lib", "kubelet")];
}

// ---------------------------------------------------------------- reading the PKI

const PEM = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
const KUBECONFIG_DATA =
  /(certificate-authority-data|client-certificate-data|client-key-data):[ \t]*"?([A-Za-z0-9+/=]+)"?/g;
const SKIP_DIRS = new Set(["pods", "plugins", "device-plugins", "pod-resources"]);

interface PkiFile {
  readonly path: string;
  readonly text: string;
  readonly mode: number;
}

function scan(roots: readonly string[]): PkiFile[] {
  const files: PkiFile[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const st = lstatSync(path);
      if (st.isDirectory()) {
        if (!SKIP_DIRS.has(name)) walk(path);
      } else if (st.isFile() && st.size < 1 << 20) {
        const text = readFileSync(path, "utf8");
        if (text.includes("-----BEGIN ") || /-data:/.test(text))
          files.push({ path, text, mode: st.mode & 0o7777 });
      }
    }
  };
  for (const r of roots) if (existsSync(r)) walk(r);
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

/** Every PEM block of a file, including those inside a kubeconfig's base64 *-data values. */
function blocks(text: string): { label: string; pem: string }[] {
  const out: { label: string; pem: string }[] = [];
  for (const m of text.matchAll(PEM)) out.push({ label: m[1]!, pem: m[0] });
  for (const m of text.matchAll(KUBECONFIG_DATA)) {
    const inner = Buffer.from(m[2]!, "base64").toString("utf8");
    for (const b of inner.matchAll(PEM)) out.push({ label: b[1]!, pem: b[0] });
  }
  return out;
}

/** Replaces every PEM block of a file (and inside kubeconfig *-data values) through `fn`. */
function rewrite(text: string, fn: (label: string, pem: string) => string): string {
  const pems = (t: string): string => t.replace(PEM, (pem, label: string) => fn(label, pem));
  return pems(text).replace(KUBECONFIG_DATA, (_all, key: string, b64: string) => {
    const inner = Buffer.from(b64, "base64").toString("utf8");
    return `${key}: ${Buffer.from(pems(inner), "utf8").toString("base64")}`;
  });
}

const sha256 = (b: Buffer | string): string => createHash("sha256").update(b).digest("hex");
const spkiOf = (k: KeyObject): Buffer =>
  (k.type === "private" ? createPublicKey(k) : k).export({ type: "spki", format: "der" });
const derOfPem = (pem: string): Buffer =>
  Buffer.from(pem.replace(/-----[A-Z0-9 ]+-----/g, "").replace(/\s+/g, ""), "base64");
const toPem = (label: string, der: Buffer): string =>
  `-----BEGIN ${label}-----\n${der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .replace(/\n$/, "")}\n-----END ${label}-----`;

interface Cert {
  readonly der: Buffer;
  readonly fp: string;
  readonly x509: X509Certificate;
  readonly tbs: Tlv;
  readonly fields: Tlv[];
  readonly subject: Tlv;
  readonly issuer: Tlv;
  readonly spki: Buffer;
  readonly keyFp: string;
  readonly cn: string;
}

function parseCert(der: Buffer): Cert {
  const top = readTlv(der);
  const [tbs] = children(top);
  if (!tbs) throw new Error("certificate without a TBSCertificate");
  const fields = children(tbs);
  const v = fields[0]?.tag === 0xa0 ? 1 : 0;
  const issuer = fields[v + 2]!;
  const subject = fields[v + 4]!;
  const spki = fields[v + 5]!.raw;
  const x509 = new X509Certificate(der);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1] ?? "";
  return {
    der,
    fp: sha256(der),
    x509,
    tbs,
    fields,
    subject,
    issuer,
    spki: Buffer.from(spki),
    keyFp: sha256(spki),
    cn,
  };
}

// ---------------------------------------------------------------- renaming

function renamer(
  from: Identity,
  to: Identity,
): {
  text: (s: string) => string;
  ip: (b: Buffer) => Buffer;
} {
  const pairs: [RegExp, string][] = [];
  const esc = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const word = (s: string): RegExp => new RegExp(`(?<![A-Za-z0-9-])${esc(s)}(?![A-Za-z0-9-])`, "g");
  if (from.clusterName && from.baseDomain && to.clusterName && to.baseDomain)
    pairs.push([
      word(`${from.clusterName}.${from.baseDomain}`),
      `${to.clusterName}.${to.baseDomain}`,
    ]);
  if (from.hostname && to.hostname && from.hostname !== to.hostname)
    pairs.push([word(from.hostname), to.hostname]);
  const ips = new Map<string, Buffer>();
  (from.nodeIps ?? []).forEach((ip, i) => {
    const next = to.nodeIps?.[i];
    if (next && next !== ip) {
      pairs.push([word(ip), next]);
      ips.set(ipBytes(ip).toString("hex"), ipBytes(next));
    }
  });
  return {
    text: s => pairs.reduce((acc, [re, rep]) => acc.replace(re, rep), s),
    ip: b => ips.get(b.toString("hex")) ?? b,
  };
}

function ipBytes(ip: string): Buffer {
  if (ip.includes(".")) return Buffer.from(ip.split(".").map(Number));
  const [head = "", tail = ""] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const zeros = Array.from({ length: 8 - h.length - t.length }, () => "0");
  const groups = ip.includes("::") ? [...h, ...zeros, ...t] : h;
  return Buffer.from(groups.flatMap(g => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

const STRING_TAGS: readonly number[] = [
  Tag.utf8String,
  Tag.printableString,
  Tag.ia5String,
  Tag.t61String,
];

/** A Name with every attribute value renamed. */
function renameName(name: Tlv, rename: (s: string) => string): Buffer {
  return encode(
    Tag.sequence,
    children(name).map(rdn =>
      encode(
        Tag.set,
        children(rdn).map(atv => {
          const [oid, value] = children(atv);
          if (!oid || !value || !STRING_TAGS.includes(value.tag)) return atv.raw;
          const renamed = rename(value.content.toString("utf8"));
          // A PrintableString cannot hold every character a new name may bring.
          const tag =
            value.tag === Tag.printableString && !/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(renamed)
              ? Tag.utf8String
              : value.tag;
          return encode(Tag.sequence, [oid.raw, encode(tag, Buffer.from(renamed, "utf8"))]);
        }),
      ),
    ),
  );
}

// ---------------------------------------------------------------- keys and signatures

function newKeyLike(template: KeyObject): KeyObject {
  const d = template.asymmetricKeyDetails ?? {};
  switch (template.asymmetricKeyType) {
    case "rsa":
      return generateKeyPairSync("rsa", {
        modulusLength: d.modulusLength ?? 2048,
        publicExponent: Number(d.publicExponent ?? 65537n),
      }).privateKey;
    case "ec":
      return generateKeyPairSync("ec", { namedCurve: d.namedCurve ?? "prime256v1" }).privateKey;
    case "ed25519":
      return generateKeyPairSync("ed25519").privateKey;
    default:
      throw new Error(`unsupported key type ${template.asymmetricKeyType ?? "unknown"}`);
  }
}

const OID = {
  ecdsaSha256: "2a8648ce3d040302",
  ecdsaSha384: "2a8648ce3d040303",
  ecdsaSha512: "2a8648ce3d040304",
  rsaSha256: "2a864886f70d01010b",
  ed25519: "2b6570",
  subjectAltName: "551d11",
  subjectKeyId: "551d0e",
  authorityKeyId: "551d23",
} as const;

/** The signature AlgorithmIdentifier and hash for a signing key. */
function signatureAlgorithm(key: KeyObject): { id: Buffer; hash: string | null } {
  const oid = (hex: string): Buffer => encode(Tag.oid, Buffer.from(hex, "hex"));
  switch (key.asymmetricKeyType) {
    case "rsa":
      return {
        id: encode(Tag.sequence, [oid(OID.rsaSha256), encode(Tag.null, Buffer.alloc(0))]),
        hash: "sha256",
      };
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      const [hex, hash] =
        curve === "secp384r1"
          ? [OID.ecdsaSha384, "sha384"]
          : curve === "secp521r1"
            ? [OID.ecdsaSha512, "sha512"]
            : [OID.ecdsaSha256, "sha256"];
      return { id: encode(Tag.sequence, [oid(hex)]), hash };
    }
    case "ed25519":
      return { id: encode(Tag.sequence, [oid(OID.ed25519)]), hash: null };
    default:
      throw new Error(`cannot sign with a ${key.asymmetricKeyType ?? "unknown"} key`);
  }
}

/** RFC 5280's key identifier: SHA-1 of the subjectPublicKey bits. */
function keyIdentifier(spki: Buffer): Buffer {
  const [, bits] = children(readTlv(spki));
  return createHash("sha1").update(bits!.content.subarray(1)).digest();
}

function subjectKeyIdOf(cert: Cert): Buffer | undefined {
  const ext = extensionsOf(cert).find(e => e.oid === OID.subjectKeyId);
  return ext ? readTlv(ext.value).content : undefined;
}

function extensionsOf(
  cert: Cert,
): { oid: string; raw: Buffer; critical?: Buffer; value: Buffer }[] {
  const exts = cert.fields.find(f => f.tag === 0xa3);
  if (!exts) return [];
  return children(children(exts)[0]!).map(e => {
    const parts = children(e);
    const oid = parts[0]!.content.toString("hex");
    const critical = parts.length === 3 ? parts[1]!.raw : undefined;
    return { oid, raw: e.raw, critical, value: parts.at(-1)!.content };
  });
}

// ---------------------------------------------------------------- re-issuing

interface Kept {
  readonly cert: Cert;
  readonly key?: KeyObject;
}

export interface RecertOptions {
  /** PKI folders of the stateroot to regenerate. */
  readonly roots: readonly string[];
  /** The seed's identity (its manifest.json) and this cluster's. */
  readonly from: Identity;
  readonly to: Identity;
  /** Folder of signers saved from the original stateroot (saveSigners). */
  readonly keptDir?: string;
  readonly now?: Date;
}

export interface RecertSummary {
  readonly certificates: number;
  readonly keys: number;
  readonly kept: string[];
  readonly files: number;
  /** SHA-256 of every seed certificate and public key replaced (public data). */
  readonly seedFingerprints: string[];
}

interface Plan {
  readonly files: { path: string; text: string; mode: number }[];
  readonly summary: RecertSummary;
}

/** Works out the new content of every PKI file without writing anything. */
export function planRecert(opts: RecertOptions): Plan {
  const now = opts.now ?? new Date();
  const files = scan(opts.roots);
  const rename = renamer(opts.from, opts.to);
  const certs = new Map<string, Cert>();
  const keyTemplates = new Map<string, KeyObject>();
  /** Public keys whose private key is on the node. */
  const privateHere = new Set<string>();
  for (const f of files) {
    for (const b of blocks(f.text)) {
      try {
        if (b.label === "CERTIFICATE") {
          const c = parseCert(derOfPem(b.pem));
          certs.set(c.fp, c);
          if (!keyTemplates.has(c.keyFp)) keyTemplates.set(c.keyFp, c.x509.publicKey);
        } else if (b.label.endsWith("PRIVATE KEY")) {
          const k = createPrivateKey(b.pem);
          keyTemplates.set(sha256(spkiOf(k)), k);
          privateHere.add(sha256(spkiOf(k)));
        }
      } catch (err) {
        throw new Error(`${f.path}: cannot read a ${b.label}: ${(err as Error).message}`);
      }
    }
  }
  const kept = opts.keptDir ? loadSigners(opts.keptDir) : [];
  const keptByCn = new Map(kept.map(k => [k.cert.cn, k]));

  // New keys, one per public key seen; a kept signer's key stands in for the seed's.
  const newKeys = new Map<string, KeyObject | null>();
  const replaced = new Map<string, Cert>();
  for (const c of certs.values()) {
    const k = keptByCn.get(c.cn);
    if (k && isKeptSigner(c.cn)) {
      replaced.set(c.fp, k.cert);
      newKeys.set(c.keyFp, k.key ?? null);
    }
  }
  const newKey = (fp: string): KeyObject | null => {
    if (!newKeys.has(fp)) {
      const t = keyTemplates.get(fp);
      newKeys.set(fp, t ? newKeyLike(t) : null);
    }
    return newKeys.get(fp) ?? null;
  };

  const issuerOf = (c: Cert): Cert | undefined => {
    if (c.subject.raw.equals(c.issuer.raw) && c.x509.verify(c.x509.publicKey)) return c;
    for (const cand of certs.values())
      if (cand.subject.raw.equals(c.issuer.raw) && c.x509.verify(cand.x509.publicKey)) return cand;
    return undefined;
  };

  const issued = new Map<string, Cert>();
  const reissue = (c: Cert, depth = 0): Cert => {
    const done = issued.get(c.fp);
    if (done) return done;
    if (depth > 16) throw new Error(`certificate chain of ${c.cn} is too deep or circular`);
    const keptCert = replaced.get(c.fp);
    if (keptCert) {
      issued.set(c.fp, keptCert);
      return keptCert;
    }
    const issuer = issuerOf(c);
    if (!issuer) {
      // Signed by a CA that is not on this node (a public CA, say): nothing seed-specific to redo.
      issued.set(c.fp, c);
      return c;
    }
    const selfSigned = issuer === c;
    const issuerKept = replaced.has(issuer.fp);
    if (!issuerKept && !privateHere.has(issuer.keyFp)) {
      // Its issuer's key is elsewhere (an outside or public CA, in a trust bundle, say): it
      // cannot be issued again here, and nothing of it is the seed's to redo.
      issued.set(c.fp, c);
      return c;
    }
    const signer = newKey(issuer.keyFp);
    if (!signer)
      throw new Error(
        `certificate ${JSON.stringify(c.cn)} is signed by ${JSON.stringify(issuer.cn)}, whose private key is neither on this node nor kept from the original stateroot`,
      );
    const subjectKey = newKey(c.keyFp);
    const spki = subjectKey ? spkiOf(subjectKey) : c.spki;
    const newIssuer = selfSigned ? undefined : reissue(issuer, depth + 1);
    const subject = renameName(c.subject, rename.text);
    const cert = buildCert(c, {
      subject,
      issuer: newIssuer ? newIssuer.subject.raw : subject,
      spki,
      issuerKeyId: newIssuer ? subjectKeyIdOf(newIssuer) : keyIdentifier(spki),
      signer,
      now,
      rename,
    });
    issued.set(c.fp, cert);
    return cert;
  };
  for (const c of certs.values()) reissue(c);
  const untouchedKeys = new Set(
    [...certs.values()].filter(c => issued.get(c.fp) === c).map(c => c.keyFp),
  );

  const keyPem = (label: string, k: KeyObject): string => {
    if (label === "EC PRIVATE KEY")
      return k.export({ type: "sec1", format: "pem" }).toString().trim();
    if (label === "RSA PRIVATE KEY")
      return k.export({ type: "pkcs1", format: "pem" }).toString().trim();
    return k.export({ type: "pkcs8", format: "pem" }).toString().trim();
  };
  const out: Plan["files"] = [];
  for (const f of files) {
    const text = rewrite(f.text, (label, pem) => {
      if (label === "CERTIFICATE") {
        const c = issued.get(sha256(derOfPem(pem)));
        return c ? toPem("CERTIFICATE", c.der) : pem;
      }
      if (label.endsWith("PRIVATE KEY")) {
        const fp = sha256(spkiOf(createPrivateKey(pem)));
        // The key of a certificate left as it is stays too; any other key is renewed.
        const k = untouchedKeys.has(fp) ? null : newKey(fp);
        return k ? keyPem(label, k) : pem;
      }
      if (label === "PUBLIC KEY" || label === "RSA PUBLIC KEY") {
        const fp = sha256(spkiOf(createPublicKey(pem)));
        const k = newKeys.has(fp) ? newKeys.get(fp) : undefined;
        if (!k) return pem;
        const pub = createPublicKey(k);
        return (
          label === "RSA PUBLIC KEY"
            ? pub.export({ type: "pkcs1", format: "pem" })
            : pub.export({ type: "spki", format: "pem" })
        )
          .toString()
          .trim();
      }
      return pem;
    });
    if (text !== f.text) out.push({ path: f.path, text, mode: f.mode });
  }
  const seedFingerprints = [
    ...[...certs.values()].filter(c => issued.get(c.fp) !== c).map(c => c.fp),
    ...[...newKeys.keys()],
  ].sort();
  return {
    files: out,
    summary: {
      certificates: [...certs.values()].filter(c => issued.get(c.fp) !== c && !replaced.has(c.fp))
        .length,
      keys: [...newKeys.entries()].filter(([fp, k]) => k && !kept.some(x => x.key === k) && fp)
        .length,
      kept: [...new Set([...replaced.values()].map(c => c.cn))].sort(),
      files: out.length,
      seedFingerprints,
    },
  };
}

function buildCert(
  old: Cert,
  p: {
    subject: Buffer;
    issuer: Buffer;
    spki: Buffer;
    issuerKeyId?: Buffer;
    signer: KeyObject;
    now: Date;
    rename: ReturnType<typeof renamer>;
  },
): Cert {
  const f = old.fields;
  const v = f[0]?.tag === 0xa0 ? 1 : 0;
  const [notBefore, notAfter] = children(f[v + 3]!);
  const lifetime = decodeTime(notAfter!).getTime() - decodeTime(notBefore!).getTime();
  const start = new Date(Math.floor(p.now.getTime() / 1000) * 1000 - 60_000);
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const alg = signatureAlgorithm(p.signer);
  const exts = extensionsOf(old).map(e => {
    let value: Buffer | undefined;
    if (e.oid === OID.subjectKeyId) value = encode(Tag.octetString, keyIdentifier(p.spki));
    else if (e.oid === OID.authorityKeyId && p.issuerKeyId)
      value = encode(Tag.sequence, [encode(0x80, p.issuerKeyId)]);
    else if (e.oid === OID.subjectAltName) {
      value = encode(
        Tag.sequence,
        children(readTlv(e.value)).map(n => {
          if (n.tag === 0x82)
            return encode(0x82, Buffer.from(p.rename.text(n.content.toString("ascii")), "ascii"));
          if (n.tag === 0x87) return encode(0x87, p.rename.ip(n.content));
          return n.raw;
        }),
      );
    }
    if (!value) return e.raw;
    return encode(Tag.sequence, [
      encode(Tag.oid, Buffer.from(e.oid, "hex")),
      ...(e.critical ? [e.critical] : []),
      encode(Tag.octetString, value),
    ]);
  });
  const rest = f
    .slice(v + 6)
    .filter(x => x.tag !== 0xa3)
    .map(x => x.raw);
  const tbs = encode(Tag.sequence, [
    ...(v ? [f[0]!.raw] : []),
    encode(Tag.integer, serial),
    alg.id,
    p.issuer,
    encode(Tag.sequence, [encodeTime(start), encodeTime(new Date(start.getTime() + lifetime))]),
    p.subject,
    p.spki,
    ...rest,
    ...(exts.length ? [encode(0xa3, encode(Tag.sequence, exts))] : []),
  ]);
  const signature = sign(alg.hash, tbs, p.signer);
  const der = encode(Tag.sequence, [
    tbs,
    alg.id,
    encode(Tag.bitString, Buffer.concat([Buffer.from([0]), signature])),
  ]);
  return parseCert(der);
}

// ---------------------------------------------------------------- kept signers

/**
 * Saves the signers to keep (certificate, and key where the node has it) from the original
 * stateroot's PKI into `dir` (LCA's kubeconfig-crypto), private keys readable by root only.
 */
export function saveSigners(roots: readonly string[], dir: string): string[] {
  const certs: Cert[] = [];
  const keys = new Map<string, string>();
  for (const f of scan(roots)) {
    for (const b of blocks(f.text)) {
      if (b.label === "CERTIFICATE") {
        const c = parseCert(derOfPem(b.pem));
        if (isKeptSigner(c.cn) && c.x509.ca) certs.push(c);
      } else if (b.label.endsWith("PRIVATE KEY")) {
        keys.set(sha256(spkiOf(createPrivateKey(b.pem))), b.pem);
      }
    }
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const saved = new Set<string>();
  for (const c of certs) {
    if (saved.has(c.cn)) continue;
    saved.add(c.cn);
    const base = join(dir, c.cn.replace(/[^A-Za-z0-9_.-]/g, "_"));
    const key = keys.get(c.keyFp);
    if (key) writeFileSync(`${base}.key`, `${key}\n`, { mode: 0o600 });
    writeFileSync(`${base}.crt`, `${toPem("CERTIFICATE", c.der)}\n`, { mode: 0o644 });
  }
  return [...saved].sort();
}

function loadSigners(dir: string): Kept[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter(f => f.endsWith(".crt"))
    .map(f => {
      const cert = parseCert(derOfPem(readFileSync(join(dir, f), "utf8")));
      const keyFile = join(dir, f.replace(/\.crt$/, ".key"));
      return existsSync(keyFile)
        ? { cert, key: createPrivateKey(readFileSync(keyFile, "utf8")) }
        : { cert };
    });
}

// ---------------------------------------------------------------- identity

/**
 * A cluster's identity as its own certificates tell it: the cluster domain from the API
 * server's `api.<cluster>.<domain>` name, node IPs from certificates naming the host.
 */
export function identityFromPki(roots: readonly string[], hostname: string): Identity {
  let clusterName: string | undefined;
  let baseDomain: string | undefined;
  const ips = new Set<string>();
  for (const f of scan(roots)) {
    for (const b of blocks(f.text)) {
      if (b.label !== "CERTIFICATE") continue;
      const san = new X509Certificate(derOfPem(b.pem)).subjectAltName ?? "";
      const names = san.split(", ");
      const api = names.find(n => /^DNS:api\.[^.]+\./.test(n));
      if (api && !clusterName) {
        const [, cluster, domain] = /^DNS:api\.([^.]+)\.(.+)$/.exec(api) ?? [];
        clusterName = cluster;
        baseDomain = domain;
      }
      if (names.includes(`DNS:${hostname}`)) {
        for (const n of names)
          if (n.startsWith("IP Address:") && !/^IP Address:(127\.|::1$)/.test(n))
            ips.add(n.slice("IP Address:".length));
      }
    }
  }
  return { hostname, clusterName, baseDomain, nodeIps: [...ips].sort() };
}

// ---------------------------------------------------------------- applying

/**
 * Regenerates the crypto of the PKI under `opts.roots`, restartable: the plan is staged in
 * `stateDir` and committed by renaming plan.json into place, then applied; done.json records
 * the summary. A call after a crash finishes the same plan; a call after success returns
 * the summary.
 */
export function recert(
  opts: RecertOptions & { stateDir: string; onApplied?: (n: number) => void },
): RecertSummary {
  const done = join(opts.stateDir, "done.json");
  if (existsSync(done)) return JSON.parse(readFileSync(done, "utf8")) as RecertSummary;
  const planFile = join(opts.stateDir, "plan.json");
  const staged = join(opts.stateDir, "files");
  if (!existsSync(planFile)) {
    rmSync(opts.stateDir, { recursive: true, force: true });
    mkdirSync(staged, { recursive: true, mode: 0o700 });
    const plan = planRecert(opts);
    const entries = plan.files.map((f, i) => {
      writeFileSync(join(staged, String(i)), f.text, { mode: 0o600 });
      return { path: f.path, staged: String(i), mode: f.mode };
    });
    writeFileSync(`${planFile}.tmp`, JSON.stringify({ entries, summary: plan.summary }));
    renameSync(`${planFile}.tmp`, planFile);
  }
  const plan = JSON.parse(readFileSync(planFile, "utf8")) as {
    entries: { path: string; staged: string; mode: number }[];
    summary: RecertSummary;
  };
  plan.entries.forEach((e, i) => {
    const tmp = join(dirname(e.path), `.${i}.ibu-recert.tmp`);
    writeFileSync(tmp, readFileSync(join(staged, e.staged)), { mode: e.mode });
    renameSync(tmp, e.path);
    opts.onApplied?.(i + 1);
  });
  writeFileSync(`${done}.tmp`, JSON.stringify(plan.summary));
  renameSync(`${done}.tmp`, done);
  rmSync(staged, { recursive: true, force: true });
  rmSync(planFile, { force: true });
  return plan.summary;
}

/**
 * What is wrong with a stateroot's PKI: a certificate no certificate on the node signed
 * (other than roots and those from outside CAs), one not valid now, a key left from the seed.
 */
export function pkiProblems(
  roots: readonly string[],
  seedFingerprints: readonly string[],
  now = new Date(),
): string[] {
  const seed = new Set(seedFingerprints);
  const problems: string[] = [];
  const files = scan(roots);
  const all: { file: string; cert: Cert }[] = [];
  for (const f of files)
    for (const b of blocks(f.text)) {
      if (b.label === "CERTIFICATE") all.push({ file: f.path, cert: parseCert(derOfPem(b.pem)) });
      else if (b.label.endsWith("PRIVATE KEY") && seed.has(sha256(spkiOf(createPrivateKey(b.pem)))))
        problems.push(`${f.path}: private key left from the seed`);
    }
  for (const { file, cert } of all) {
    const where = `${file}: certificate ${JSON.stringify(cert.cn)}`;
    if (seed.has(cert.fp) || seed.has(cert.keyFp)) problems.push(`${where} left from the seed`);
    const from = Date.parse(cert.x509.validFrom);
    const to = Date.parse(cert.x509.validTo);
    if (now.getTime() < from || now.getTime() > to)
      problems.push(`${where} is not valid now (${cert.x509.validFrom} – ${cert.x509.validTo})`);
    const issuer = all.find(
      o => o.cert.subject.raw.equals(cert.issuer.raw) && cert.x509.verify(o.cert.x509.publicKey),
    );
    const namedIssuerHere = all.some(o => o.cert.subject.raw.equals(cert.issuer.raw));
    if (!issuer && namedIssuerHere)
      problems.push(
        `${where} does not verify against its issuer ${JSON.stringify(cert.x509.issuer)}`,
      );
  }
  return [...new Set(problems)];
}

/**
 * The fingerprints, as a recert summary's seedFingerprints lists them, of every certificate
 * (and its public key) and every private or public key in a text (kubeconfig data included).
 */
export function fingerprintsOf(text: string): string[] {
  const out: string[] = [];
  for (const b of blocks(text)) {
    if (b.label === "CERTIFICATE") {
      const c = parseCert(derOfPem(b.pem));
      out.push(c.fp, c.keyFp);
    } else if (b.label.endsWith("PRIVATE KEY")) out.push(sha256(spkiOf(createPrivateKey(b.pem))));
    else if (b.label.endsWith("PUBLIC KEY")) out.push(sha256(spkiOf(createPublicKey(b.pem))));
  }
  return out;
}

/** Exported for tests: fingerprints of the certificates and keys under `roots`. */
export function fingerprints(roots: readonly string[]): { certs: string[]; keys: string[] } {
  const certs = new Set<string>();
  const keys = new Set<string>();
  for (const f of scan(roots))
    for (const b of blocks(f.text)) {
      if (b.label === "CERTIFICATE") {
        const c = parseCert(derOfPem(b.pem));
        certs.add(c.fp);
        keys.add(c.keyFp);
      } else if (b.label.endsWith("PRIVATE KEY")) keys.add(sha256(spkiOf(createPrivateKey(b.pem))));
    }
  return { certs: [...certs].sort(), keys: [...keys].sort() };
}
