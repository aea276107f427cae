// Secrets and ConfigMaps as the kube-apiserver stores them in etcd, read and rewritten without
// an apiserver: the protobuf envelope (`k8s\0` + runtime.Unknown{typeMeta, raw}) around a
// v1.Secret (data: map<string, bytes>, field 2) or v1.ConfigMap (data: map<string, string>,
// field 2; binaryData: map<string, bytes>, field 3), or the JSON an apiserver started with
// `--storage-media-type=application/json` writes. Only map values change on a rewrite; every
// other byte (metadata, type, unknown fields) is carried over as it was.

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]); // "k8s\0"

interface Field {
  readonly num: number;
  readonly wire: number;
  /** The field's payload: the bytes of a length-delimited field, else the encoded value. */
  readonly data: Buffer;
  /** The whole field as encoded (tag included), to write back unchanged. */
  readonly raw: Buffer;
}

function readVarint(buf: Buffer, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new Error("truncated varint");
    const b = buf[pos++]!;
    result += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return [result, pos];
    shift += 7;
    if (shift > 63) throw new Error("varint too long");
  }
}

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Buffer.from(out);
}

function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    let tag: number;
    [tag, pos] = readVarint(buf, pos);
    const num = Math.floor(tag / 8);
    const wire = tag & 7;
    let data: Buffer;
    if (wire === 0) {
      const vStart = pos;
      [, pos] = readVarint(buf, pos);
      data = buf.subarray(vStart, pos);
    } else if (wire === 1 || wire === 5) {
      const len = wire === 1 ? 8 : 4;
      data = buf.subarray(pos, pos + len);
      pos += len;
    } else if (wire === 2) {
      let len: number;
      [len, pos] = readVarint(buf, pos);
      data = buf.subarray(pos, pos + len);
      pos += len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (pos > buf.length) throw new Error("truncated protobuf field");
    out.push({ num, wire, data, raw: buf.subarray(start, pos) });
  }
  return out;
}

const bytesField = (num: number, data: Buffer): Buffer =>
  Buffer.concat([varint(num * 8 + 2), varint(data.length), data]);

const str = (f: Field | undefined): string => f?.data.toString("utf8") ?? "";

/** One value of a Secret's or ConfigMap's maps: `data` or `binaryData`, its key, its bytes. */
export interface StoredEntry {
  readonly map: "data" | "binaryData";
  readonly key: string;
  readonly value: Buffer;
}

export interface StoredObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly entries: readonly StoredEntry[];
}

/** The map fields of the kinds we read: field number → map name. */
const MAPS: Record<string, Record<number, StoredEntry["map"]>> = {
  Secret: { 2: "data" },
  ConfigMap: { 2: "data", 3: "binaryData" },
};

interface Envelope {
  readonly format: "protobuf" | "json";
  readonly apiVersion: string;
  readonly kind: string;
}

function envelope(value: Buffer): (Envelope & { unknown?: Field[] }) | undefined {
  if (value.subarray(0, 4).equals(MAGIC)) {
    const unknown = fields(value.subarray(4));
    const typeMeta = fields(unknown.find(f => f.num === 1)?.data ?? Buffer.alloc(0));
    return {
      format: "protobuf",
      apiVersion: str(typeMeta.find(f => f.num === 1)),
      kind: str(typeMeta.find(f => f.num === 2)),
      unknown,
    };
  }
  if (value[0] === 0x7b) {
    try {
      const o = JSON.parse(value.toString("utf8")) as { apiVersion?: string; kind?: string };
      return { format: "json", apiVersion: o.apiVersion ?? "", kind: o.kind ?? "" };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * A stored Secret or ConfigMap with its map values; undefined for any other value (other kinds,
 * encrypted data, anything that is not a Kubernetes object).
 */
export function decodeStored(value: Buffer): StoredObject | undefined {
  let env: ReturnType<typeof envelope>;
  try {
    env = envelope(value);
  } catch {
    return undefined;
  }
  if (!env || env.apiVersion !== "v1" || !MAPS[env.kind]) return undefined;
  const entries: StoredEntry[] = [];
  if (env.format === "json") {
    const o = JSON.parse(value.toString("utf8")) as {
      data?: Record<string, string>;
      binaryData?: Record<string, string>;
    };
    const secret = env.kind === "Secret";
    for (const [key, v] of Object.entries(o.data ?? {}))
      entries.push({ map: "data", key, value: Buffer.from(v, secret ? "base64" : "utf8") });
    for (const [key, v] of Object.entries(o.binaryData ?? {}))
      entries.push({ map: "binaryData", key, value: Buffer.from(v, "base64") });
  } else {
    const raw = env.unknown!.find(f => f.num === 2)?.data ?? Buffer.alloc(0);
    const maps = MAPS[env.kind]!;
    for (const f of fields(raw)) {
      const map = maps[f.num];
      if (!map || f.wire !== 2) continue;
      const entry = fields(f.data);
      entries.push({
        map,
        key: str(entry.find(e => e.num === 1)),
        value: Buffer.from(entry.find(e => e.num === 2)?.data ?? Buffer.alloc(0)),
      });
    }
  }
  return { apiVersion: env.apiVersion, kind: env.kind, entries };
}

/**
 * The stored value with some map values replaced (`replace` returns the new bytes, or undefined
 * to keep one), in the same format; everything else is kept byte for byte.
 */
export function rewriteStored(
  value: Buffer,
  replace: (e: StoredEntry) => Buffer | undefined,
): Buffer {
  const env = envelope(value);
  if (!env || env.apiVersion !== "v1" || !MAPS[env.kind])
    throw new Error("not a stored v1 Secret or ConfigMap");
  if (env.format === "json") {
    const o = JSON.parse(value.toString("utf8")) as {
      data?: Record<string, string>;
      binaryData?: Record<string, string>;
    };
    const secret = env.kind === "Secret";
    for (const map of ["data", "binaryData"] as const) {
      const m = o[map];
      if (!m) continue;
      for (const [key, v] of Object.entries(m)) {
        const binary = map === "binaryData" || secret;
        const next = replace({ map, key, value: Buffer.from(v, binary ? "base64" : "utf8") });
        if (next) m[key] = next.toString(binary ? "base64" : "utf8");
      }
    }
    return Buffer.from(`${JSON.stringify(o)}\n`, "utf8");
  }
  const maps = MAPS[env.kind]!;
  const unknown = env.unknown!.map(u => {
    if (u.num !== 2) return u.raw;
    const object = fields(u.data).map(f => {
      const map = maps[f.num];
      if (!map || f.wire !== 2) return f.raw;
      const entry = fields(f.data);
      const key = str(entry.find(e => e.num === 1));
      const old = Buffer.from(entry.find(e => e.num === 2)?.data ?? Buffer.alloc(0));
      const next = replace({ map, key, value: old });
      if (!next) return f.raw;
      const rebuilt = entry.map(e => (e.num === 2 ? bytesField(2, next) : e.raw));
      if (!entry.some(e => e.num === 2)) rebuilt.push(bytesField(2, next));
      return bytesField(f.num, Buffer.concat(rebuilt));
    });
    return bytesField(2, Buffer.concat(object));
  });
  return Buffer.concat([MAGIC, ...unknown]);
}
