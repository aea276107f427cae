// Decodes the bytes of a file a user wrote (fleet file, OADP file) as strict UTF-8, so a byte in
// another encoding is an error at its line and column, never a U+FFFD copied into the output.
import { Buffer } from "node:buffer";

/**
 * A file that is not UTF-8: where (1-based line and column of the first bad byte; 0:0 for a
 * file that is wrong as a whole, UTF-16) and why.
 */
export class EncodingError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = "EncodingError";
  }

  /** The problem in another file's message: `file:line:column: why`, or `file: why`. */
  in(file: string): string {
    return this.line
      ? `${file}:${this.line}:${this.column}: ${this.message}`
      : `${file}: ${this.message}`;
  }
}

const strict = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

/**
 * The byte order of a UTF-16 text: by its byte order mark, or without one guessed from its NUL
 * bytes (YAML is mostly ASCII, which UTF-16 writes as a NUL and the character: the NUL second
 * in little-endian, first in big-endian). Undefined for anything else.
 */
export function utf16Order(
  bytes: Uint8Array,
): { order: "little-endian" | "big-endian"; by: string } | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0xfe)
    return { order: "little-endian", by: "its byte order mark" };
  if (bytes[0] === 0xfe && bytes[1] === 0xff)
    return { order: "big-endian", by: "its byte order mark" };
  const pairs = Math.min(bytes.length, 512) >> 1;
  let first = 0;
  let second = 0;
  for (let i = 0; i < pairs * 2; i += 2) {
    if (bytes[i] === 0) first++;
    if (bytes[i + 1] === 0) second++;
  }
  const by = "guessed from its NUL bytes";
  if (pairs && second * 2 > pairs && first * 8 < pairs) return { order: "little-endian", by };
  if (pairs && first * 2 > pairs && second * 8 < pairs) return { order: "big-endian", by };
  return undefined;
}

/**
 * The text of `bytes`, which must be UTF-8 (a UTF-8 byte order mark is dropped). YAML 1.2 also
 * allows UTF-16 and UTF-32, but Kubernetes objects and Git diffs are UTF-8, so we ask for it.
 * @throws EncodingError at the first byte that is not UTF-8, or for the whole file (line 0)
 *   when it is UTF-16, with or without a byte order mark
 */
export function decodeUtf8(bytes: Uint8Array): string {
  const utf16 = utf16Order(bytes);
  if (utf16)
    throw new EncodingError(
      `the file is UTF-16 ${utf16.order} (${utf16.by}) and must be UTF-8; save it as UTF-8`,
      0,
      0,
    );
  try {
    return strict.decode(bytes);
  } catch {
    throw firstBadByte(bytes);
  }
}

/**
 * The text of `bytes` however it is encoded (UTF-16 by its byte order, else UTF-8 with bad bytes
 * replaced): only to find what a file is, never to use its content.
 */
export function decodeAnyway(bytes: Uint8Array): string {
  const utf16 = utf16Order(bytes);
  if (!utf16) return lenient.decode(bytes);
  return new TextDecoder(utf16.order === "little-endian" ? "utf-16le" : "utf-16be").decode(bytes);
}

/**
 * Where the lenient decoder first put a U+FFFD for bytes that were not one in the file: each
 * U+FFFD's byte offset is the UTF-8 length of the text before it (all valid up to there).
 */
function firstBadByte(bytes: Uint8Array): EncodingError {
  const text = lenient.decode(bytes);
  let offset = 0;
  let from = 0;
  for (let i = text.indexOf("\uFFFD"); i >= 0; i = text.indexOf("\uFFFD", i + 1)) {
    offset += Buffer.byteLength(text.slice(from, i));
    from = i;
    const genuine =
      bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd;
    if (!genuine) {
      const lineStart = text.lastIndexOf("\n", i - 1) + 1;
      let line = 1;
      for (let j = text.indexOf("\n"); j >= 0 && j < i; j = text.indexOf("\n", j + 1)) line++;
      const hex = (bytes[offset] ?? 0).toString(16).toUpperCase().padStart(2, "0");
      return new EncodingError(
        `byte 0x${hex} is not UTF-8 (Latin-1 or another encoding?); save the file as UTF-8`,
        line,
        i - lineStart + 1,
      );
    }
  }
  return new EncodingError("the file is not UTF-8; save the file as UTF-8", 1, 1);
}
