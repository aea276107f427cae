// Stored Secrets and ConfigMaps: the JSON an apiserver may store, and the protobuf envelope with
// fields we do not know carried over byte for byte. (Protobuf as a real apiserver writes it is
// tested against one in test/integration/crypto-etcd.test.ts.)
import { describe, expect, it } from "vitest";
import { decodeStored, rewriteStored } from "../../../addon/agent/drivers/kproto.js";

const varint = (n: number): number[] => {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n);
  return out;
};
const field = (num: number, bytes: Buffer): Buffer =>
  Buffer.concat([Buffer.from([...varint(num * 8 + 2), ...varint(bytes.length)]), bytes]);
const s = (t: string): Buffer => Buffer.from(t);

/** A stored v1 Secret with one data entry, plus an unknown varint field 9 on the object. */
function protoSecret(key: string, value: string): Buffer {
  const typeMeta = Buffer.concat([field(1, s("v1")), field(2, s("Secret"))]);
  const entry = Buffer.concat([field(1, s(key)), field(2, s(value))]);
  const object = Buffer.concat([
    field(1, field(1, s("name-in-metadata"))),
    field(2, entry),
    field(3, s("kubernetes.io/tls")),
    Buffer.from([9 * 8, 42]), // field 9, varint 42: something newer than us
  ]);
  return Buffer.concat([s("k8s\0"), field(1, typeMeta), field(2, object), field(4, s(""))]);
}

describe("stored Secrets and ConfigMaps", () => {
  it("reads and rewrites a protobuf Secret, keeping every other byte", () => {
    const before = protoSecret("tls.crt", "OLD");
    expect(decodeStored(before)).toEqual({
      apiVersion: "v1",
      kind: "Secret",
      entries: [{ map: "data", key: "tls.crt", value: s("OLD") }],
    });
    const after = rewriteStored(before, e =>
      e.key === "tls.crt" ? s("NEW-AND-LONGER") : undefined,
    );
    expect(after).toEqual(protoSecret("tls.crt", "NEW-AND-LONGER"));
    expect(rewriteStored(before, () => undefined)).toEqual(before);
  });

  it("reads and rewrites JSON-stored ConfigMaps and Secrets", () => {
    const cm = s(
      JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", data: { "ca.crt": "PEM" } }),
    );
    expect(decodeStored(cm)?.entries).toEqual([{ map: "data", key: "ca.crt", value: s("PEM") }]);
    const next = JSON.parse(rewriteStored(cm, () => s("NEW")).toString()) as { data: object };
    expect(next.data).toEqual({ "ca.crt": "NEW" });
    const secret = s(
      JSON.stringify({ apiVersion: "v1", kind: "Secret", data: { k: s("v").toString("base64") } }),
    );
    expect(decodeStored(secret)?.entries[0]?.value).toEqual(s("v"));
  });

  it("leaves alone what is not a Secret or ConfigMap", () => {
    expect(decodeStored(s('{"apiVersion":"v1","kind":"Pod"}'))).toBeUndefined();
    expect(decodeStored(s("k8s\0\xff\xff"))).toBeUndefined();
    expect(decodeStored(s("plain value"))).toBeUndefined();
  });
});
