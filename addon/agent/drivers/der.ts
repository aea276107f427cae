// The small part of DER (ASN.1) that re-issuing X.509 certificates needs: read a TLV, list
// a constructed value's children, encode a TLV. Single-byte tags only (X.509 needs no more).

export interface Tlv {
  readonly tag: number;
  /** The whole encoding: tag, length and content. */
  readonly raw: Buffer;
  readonly content: Buffer;
}

export function readTlv(buf: Buffer, offset = 0): Tlv {
  const tag = buf[offset];
  if (tag === undefined) throw new Error("DER: unexpected end of data");
  if ((tag & 0x1f) === 0x1f) throw new Error("DER: multi-byte tags are not supported");
  let len = buf[offset + 1];
  if (len === undefined) throw new Error("DER: unexpected end of data");
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error("DER: unsupported length encoding");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (buf[offset + 2 + i] ?? 0);
    header += n;
  }
  const end = offset + header + len;
  if (end > buf.length) throw new Error("DER: value runs past the end of data");
  return { tag, raw: buf.subarray(offset, end), content: buf.subarray(offset + header, end) };
}

/** The elements of a constructed value (SEQUENCE, SET, explicit tags). */
export function children(t: Tlv): Tlv[] {
  if (!(t.tag & 0x20)) throw new Error(`DER: tag 0x${t.tag.toString(16)} is not constructed`);
  const out: Tlv[] = [];
  for (let off = 0; off < t.content.length;) {
    const c = readTlv(t.content, off);
    out.push(c);
    off += c.raw.length;
  }
  return out;
}

export function encode(tag: number, content: Buffer | readonly Buffer[]): Buffer {
  const body = Buffer.isBuffer(content) ? content : Buffer.concat(content);
  const n = body.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  t61String: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** An X.509 time: UTCTime before 2050, GeneralizedTime from then on (RFC 5280 §4.1.2.5). */
export function encodeTime(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  const year = date.getUTCFullYear();
  if (year < 2050) return encode(Tag.utcTime, Buffer.from(`${digits.slice(2)}Z`, "ascii"));
  return encode(Tag.generalizedTime, Buffer.from(`${digits}Z`, "ascii"));
}

export function decodeTime(t: Tlv): Date {
  const s = t.content.toString("ascii");
  const m =
    t.tag === Tag.utcTime
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new Error(`DER: unsupported time ${JSON.stringify(s)}`);
  let year = Number(m[1]);
  if (t.tag === Tag.utcTime) year += year >= 50 ? 1900 : 2000;
  return new Date(
    Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])),
  );
}
