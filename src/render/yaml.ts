// YAML output that every reader reads the same way: the generated files are read by Argo CD and
// kustomize (Go, YAML 1.2-ish) and by tools on YAML 1.1, so a string either could read as
// something else (`yes`, `0o17`, `1e3`, `~`, `2001-12-14`) is written quoted.
import { Document, Scalar, isScalar, parseDocument, visit } from "yaml";

const cache = new Map<string, boolean>();

/**
 * Whether a plain (unquoted) `s` reads as a number, boolean or null under YAML 1.2's core
 * schema (Go's yaml.v3, for one: `0o17` is 15 there). The writer's own YAML 1.1 schema covers
 * what 1.1 readers take for non-strings (`yes`, `on`, `0777`, `12:30`, dates). Cached: output
 * repeats the same few strings a lot.
 */
export function readsAsNonString12(s: string): boolean {
  let v = cache.get(s);
  if (v === undefined) {
    const node = parseDocument(s, { version: "1.2" }).contents;
    v = isScalar(node) && typeof node.value !== "string";
    if (cache.size < 100_000) cache.set(s, v);
  }
  return v;
}

/** Strings that cannot read as anything else, decided without parsing: the common case. */
const PLAIN_SAFE = /^[a-zA-Z][a-zA-Z0-9/-]*$/;
const WORDS = /^(true|True|TRUE|false|False|FALSE|null|Null|NULL)$/;

/**
 * Whether `s` must be quoted should the writer leave it plain. Multi-line strings are never
 * plain; `<<` is YAML 1.1's merge key and `=` its value key.
 */
function needsQuotes(s: string): boolean {
  if (s.includes("\n")) return false;
  if (s === "<<" || s === "=") return true;
  if (PLAIN_SAFE.test(s) && !WORDS.test(s)) return false;
  return readsAsNonString12(s);
}

/**
 * One object as YAML text (cdk8s's own settings: YAML 1.1 schema, no line folding, undefined
 * kept as null), with every string that some reader would take for a number, boolean, null or
 * timestamp in double quotes.
 */
export function stringifyYaml(value: unknown): string {
  const doc = new Document(value, { version: "1.1", keepUndefined: true });
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && node.value !== "" && needsQuotes(node.value))
        node.type = Scalar.QUOTE_DOUBLE;
    },
  });
  return doc.toString({ lineWidth: 0 });
}

/** Several objects as one multi-document YAML text, as cdk8s's Yaml.stringify lays them out. */
export function stringifyYamlDocs(values: readonly unknown[]): string {
  return values.map(v => (v === undefined ? "\n" : stringifyYaml(v))).join("---\n");
}
