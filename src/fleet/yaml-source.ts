// Reads a fleet file's YAML into plain data, keeping the document for positions. Every way YAML
// can go wrong (syntax, nesting beyond the parser's stack, aliases to nothing, alias bombs) ends
// in located problems, never in an exception.
import {
  LineCounter,
  isAlias,
  isPair,
  isScalar,
  isSeq,
  parseAllDocuments,
  parseDocument,
  visit,
  type Alias,
  type Document,
  type Node,
} from "yaml";
import { FleetError, ProblemCollector, clip, show, type PathSegment } from "./errors.js";

/** Deeper flow nesting than this is refused before parsing (the parser recurses per level). */
export const MAX_FLOW_DEPTH = 64;
/** Problems from the YAML parser listed per file; the first few locate the trouble. */
const MAX_SYNTAX_PROBLEMS = 20;

export interface YamlSource {
  readonly doc: Document;
  readonly lines: LineCounter;
  readonly value: unknown;
  /** Collects later problems against the same document. */
  readonly out: ProblemCollector;
}

/** Parses `text`; throws FleetError (located problems) if it is not YAML we can read safely. */
export function readYaml(text: string, file: string): YamlSource {
  const lines = new LineCounter();
  const tooDeep = flowTooDeep(text);
  if (tooDeep !== undefined) {
    for (let i = 0; i <= text.length;) {
      const nl = text.indexOf("\n", i);
      lines.addNewLine(i);
      if (nl < 0 || nl >= tooDeep) break;
      i = nl + 1;
    }
    const out = new ProblemCollector(file, undefined, lines);
    out.addAt(tooDeep, [], `YAML: nested more than ${MAX_FLOW_DEPTH} levels deep`);
    throw new FleetError(out.problems);
  }
  let doc: Document;
  try {
    // uniqueKeys is checked below, in one pass: the library's own check is quadratic per map.
    doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: false });
  } catch (err) {
    const out = new ProblemCollector(file, undefined, lines);
    out.addAt(0, [], `YAML: cannot be read (${(err as Error).message})`);
    throw new FleetError(out.problems);
  }
  const out = new ProblemCollector(file, doc, lines);
  syntaxProblems(doc, text, out);
  if (out.problems.length) throw new FleetError(out.problems);
  const first = structureProblems(doc, out);
  if (out.problems.length) throw new FleetError(out.problems);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    const msg = (err as Error).message;
    if (first && /alias/i.test(msg))
      out.add(
        first,
        "YAML: aliases expand to too much data (the reader's guard against alias bombs); write the values out",
      );
    else out.addAt(0, [], `YAML: cannot be read (${msg.split("\n")[0] ?? ""})`);
    throw new FleetError(out.problems);
  }
  return { doc, lines, value, out };
}

function syntaxProblems(doc: Document, text: string, out: ProblemCollector): void {
  const seen = new Set<string>();
  for (const e of doc.errors) {
    if (out.problems.length >= MAX_SYNTAX_PROBLEMS) break;
    const message =
      e.code === "RESOURCE_EXHAUSTION"
        ? "YAML: nested too deeply to read"
        : e.code === "MULTIPLE_DOCS"
          ? `a fleet file holds one document; found ${parseAllDocuments(text).length}`
          : `YAML: ${e.message.split("\n")[0] ?? e.code}`;
    const key = `${e.pos[0]}:${message}`;
    if (seen.has(key) || (e.code === "RESOURCE_EXHAUSTION" && seen.has("deep"))) continue;
    seen.add(key);
    if (e.code === "RESOURCE_EXHAUSTION") seen.add("deep");
    out.addAt(e.pos[0], [], message);
  }
}

/**
 * What the parser leaves to us, at its place: keys used twice in a mapping, keys that are
 * mappings or lists, aliases that name no anchor set before them (YAML's rule), and numbers
 * beyond 2^53, which JavaScript (and so every later check) would only see rounded. Returns the
 * path of the first alias, where an over-expansion is reported. Each is at its entry's start.
 */
function structureProblems(doc: Document, out: ProblemCollector): PathSegment[] | undefined {
  let first: PathSegment[] | undefined;
  // A tag the reader does not know leaves the value as if untagged: refuse it rather than read
  // `!foo Prep` as Prep. Known tags (!!str, !!binary, ...) give values the schema then judges.
  const checkTag = (node: Node, ancestors: readonly unknown[]): void => {
    const tag = node.tag;
    if (!tag || tag === "!" || knownTag(doc, tag)) return;
    out.add(
      yamlPath(ancestors, node),
      `YAML: unknown tag ${clip(tag)}; a fleet file takes plain values (remove the tag)`,
    );
  };
  visit(doc, {
    Scalar(_key, node, ancestors) {
      checkTag(node, ancestors);
      if (typeof node.value !== "number" || Math.abs(node.value) <= Number.MAX_SAFE_INTEGER) return;
      // The number as written: its value is already rounded.
      const source = (node as { source?: unknown }).source;
      const shown = typeof source === "string" ? ` ${clip(source)}` : "";
      out.add(
        yamlPath(ancestors, node),
        `YAML: the number${shown} is too large to be read exactly (beyond 2^53 = ${Number.MAX_SAFE_INTEGER})`,
      );
    },
    Map(_key, map, ancestors) {
      checkTag(map, ancestors);
      const seen = new Set<string>();
      for (const pair of map.items) {
        if (!isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        if (seen.has(key))
          out.addAt(
            pair.key.range?.[0] ?? 0,
            [...yamlPath(ancestors, map), key],
            `YAML: ${show(key)} is a key already used in this mapping`,
          );
        seen.add(key);
      }
    },
    Pair(_key, pair, ancestors) {
      // A mapping or list as a key has no place in a fleet file (and no JSON form).
      const key = isAlias(pair.key) ? (pair.key.resolve(doc) ?? null) : pair.key;
      if (key !== null && !isScalar(key)) {
        const range = (pair.key as { range?: [number, number, number] }).range;
        out.addAt(
          range?.[0] ?? 0,
          yamlPath(ancestors, pair),
          "YAML: a key must be a plain value, not a mapping or a list",
        );
      }
    },
    Seq(_key, node, ancestors) {
      checkTag(node, ancestors);
    },
    Alias(_key, node: Alias, ancestors) {
      const path = yamlPath(ancestors, node);
      first ??= path;
      if (!node.resolve(doc))
        out.add(path, `YAML: alias *${node.source.slice(0, 60)} names no anchor defined before it`);
    },
  });
  return first;
}

/** Whether the document's schema resolves `tag` (its own tags, and YAML 1.1's it knows). */
function knownTag(doc: Document, tag: string): boolean {
  const schema = doc.schema as { tags: Array<{ tag: string }>; knownTags: Record<string, unknown> };
  return schema.tags.some(t => t.tag === tag) || Object.hasOwn(schema.knownTags, tag);
}

/** The YAML path of `node` from the visitor's ancestors (document, maps, pairs, lists). */
function yamlPath(ancestors: readonly unknown[], node: unknown): PathSegment[] {
  const path: PathSegment[] = [];
  const chain = [...ancestors, node];
  for (let i = 0; i < chain.length - 1; i++) {
    const a = chain[i];
    const next = chain[i + 1];
    if (isSeq(a)) path.push(a.items.indexOf(next));
    else if (isPair(a) && a.value === next) path.push(isScalar(a.key) ? String(a.key.value) : "?");
  }
  return path;
}

/**
 * The offset where flow collections (`[`, `{`) nest deeper than MAX_FLOW_DEPTH, or undefined.
 * Skips quoted strings and comments; an approximation of YAML's lexer that never under-counts
 * real nesting.
 */
function flowTooDeep(text: string): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') i = skipDouble(text, i);
    else if (c === "'") i = skipSingle(text, i);
    else if (c === "#" && (i === 0 || /\s/.test(text[i - 1] ?? ""))) {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl;
    } else if (c === "[" || c === "{") {
      if (++depth > MAX_FLOW_DEPTH) return i;
    } else if ((c === "]" || c === "}") && depth > 0) depth--;
  }
  return undefined;
}

function skipDouble(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "\\") i++;
    else if (text[i] === '"') return i;
  }
  return text.length;
}

function skipSingle(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === "'") {
      if (text[i + 1] === "'") i++;
      else return i;
    }
  }
  return text.length;
}
