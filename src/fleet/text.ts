// Decodes the bytes of a file a user wrote (fleet file, OADP file) as strict UTF-8, so a byte in
// another encoding is an error at its line and column, never a U+FFFD copied into the output.
import { Buffer } from "node:buffer";

/** A file that is not UTF-8: where (1-based; 1:1 for a UTF-16 file) and why. */
export class EncodingError extends Error {
  constructor(
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(message);
    this.name = "EncodingError";
  }
}

const strict = new TextDecoder("utf-8", { fatal: true });
const lenient = new TextDecoder("utf-8");

/**
 * The text of `bytes`, which must be UTF-8 (a UTF-8 byte order mark is dropped). YAML 1.2 also
 * allows UTF-16 and UTF-32, but Kubernetes objects and Git diffs are UTF-8, so we ask for it.
 * @throws EncodingError at the first byte that is not UTF-8, or at 1:1 for a UTF-16 file (BOM)
 */
export function decodeUtf8(bytes: Uint8Array): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))
    throw new EncodingError("the file is UTF-16; save the file as UTF-8", 1, 1);
  try {
    return strict.decode(bytes);
  } catch {
    throw firstBadByte(bytes);
  }
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
