// Problems found in a fleet file, each with the file, the YAML path, the line and column, so a
// user can go straight to it. Validation collects all of them, sorted, before failing.
import {
  LineCounter,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from "yaml";

export interface FleetProblem {
  readonly file: string;
  /** YAML path, e.g. `spec.groups[1].name`. */
  readonly path: string;
  /**
   * 1-based line; 0 for a problem about the file (or folder) as a whole, which has no place in
   * it: missing, unreadable, not UTF-8 as a whole, a folder without fleet files.
   */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
  readonly message: string;
}

/**
 * `file:line:column: yaml.path: message`, the form editors and CI logs link to; a problem about
 * the whole file or folder (line 0) is `file: message`.
 */
export function formatProblem(p: FleetProblem): string {
  if (!p.line) return `${p.file}: ${p.path ? `${p.path}: ` : ""}${p.message}`;
  return `${p.file}:${p.line}:${p.column}: ${p.path || "(document)"}: ${p.message}`;
}

/** At most this many problems are listed in a FleetError's message (all are in `problems`). */
const MAX_LISTED = 200;

/** Thrown by loadFleet when a fleet file has problems; `problems` has every one, sorted. */
export class FleetError extends Error {
  readonly problems: readonly FleetProblem[];

  constructor(problems: readonly FleetProblem[]) {
    const sorted = sortProblems(problems);
    const listed = sorted.slice(0, MAX_LISTED).map(p => `  ${formatProblem(p)}`);
    if (sorted.length > MAX_LISTED) listed.push(`  ... and ${sorted.length - MAX_LISTED} more`);
    super(
      `${sorted.length} problem${sorted.length === 1 ? "" : "s"} in fleet file:\n` +
        listed.join("\n"),
    );
    this.name = "FleetError";
    this.problems = sorted;
  }
}

/** By file, line, column, then path: the order a reader fixes them in. */
export function sortProblems(problems: readonly FleetProblem[]): FleetProblem[] {
  return [...problems].sort(
    (a, b) =>
      a.file.localeCompare(b.file) ||
      a.line - b.line ||
      a.column - b.column ||
      a.path.localeCompare(b.path) ||
      a.message.localeCompare(b.message),
  );
}

export type PathSegment = string | number;

/** Longest key or value echoed in a message; longer ones are cut with their length noted. */
const SHOWN_CHARS = 60;

/**
 * A value as a message shows it: strings and numbers as JSON (so control characters and quotes
 * are escaped), cut to about 60 characters with the full length noted, e.g.
 * `"xxxx…" (5000000 characters)`; lists and mappings by their shape, never their content.
 */
export function show(value: unknown): string {
  if (typeof value === "string") {
    const text = JSON.stringify(shorten(value));
    return value.length > SHOWN_CHARS ? `${text} (${value.length} characters)` : text;
  }
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return `a list of ${value.length} item${value.length === 1 ? "" : "s"}`;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return shorten(String(value));
  // What the YAML reader made of an explicit tag (!!binary, !!set, !!omap, !!timestamp).
  if (value instanceof Uint8Array) return "binary data (!!binary)";
  if (value instanceof Set) return "a set (!!set)";
  if (value instanceof Map) return "an ordered mapping (!!omap)";
  if (value instanceof Date) return "a timestamp (!!timestamp)";
  return typeof value === "object" ? "a mapping" : typeof value;
}

/** A string for use inside a message without quotes: control characters escaped, cut to 60. */
export function clip(s: string): string {
  return shorten(JSON.stringify(s).slice(1, -1));
}

function shorten(s: string): string {
  return s.length > SHOWN_CHARS ? `${s.slice(0, SHOWN_CHARS)}…` : s;
}

/** `spec.groups[1].name`; keys longer than 60 characters are cut. */
export function pathString(path: readonly PathSegment[]): string {
  return path.reduce<string>((acc, seg) => {
    if (typeof seg === "number") return `${acc}[${seg}]`;
    const key = shorten(seg);
    return acc ? `${acc}.${key}` : key;
  }, "");
}

/**
 * The known name nearest to `name` by edit distance (optimal string alignment: a swap of two
 * letters counts once), if it is close enough to be a typo: at most 1 edit for names up to 4
 * characters, 2 up to 8, and 3 beyond. Case differences count as no edit.
 */
export function didYouMean(name: string, known: readonly string[]): string | undefined {
  if (name.length > 64) return undefined;
  const lower = name.toLowerCase();
  const limit = lower.length <= 4 ? 1 : lower.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const k of known) {
    const d = editDistance(lower, k.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal-string-alignment distance; returns `cap` or more as soon as it must exceed it. */
function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let prev2: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, (prev2[j - 2] ?? 0) + 1);
      cur.push(v);
      rowMin = Math.min(rowMin, v);
    }
    if (rowMin >= cap) return cap;
    prev2 = prev;
    prev = cur;
  }
  return prev[b.length] ?? cap;
}

/** Collects problems and resolves YAML paths to lines and columns in the source document. */
export class ProblemCollector {
  readonly problems: FleetProblem[] = [];

  constructor(
    private readonly file: string,
    private readonly doc?: Document,
    private readonly lines?: LineCounter,
  ) {}

  add(path: readonly PathSegment[], message: string): void {
    const pos = this.position(path);
    this.problems.push({ file: this.file, path: pathString(path), message, ...pos });
  }

  /** A problem at a known offset in the source (YAML syntax, aliases). */
  addAt(offset: number, path: readonly PathSegment[], message: string): void {
    const { line, col } = this.lines ? this.lines.linePos(offset) : { line: 1, col: 1 };
    this.problems.push({ file: this.file, path: pathString(path), message, line, column: col });
  }

  /** The line of the deepest node that exists along `path` (a missing key points at its parent). */
  private position(path: readonly PathSegment[]): { line: number; column: number } {
    if (!this.doc || !this.lines) return { line: 1, column: 1 };
    let node = this.doc.contents as Node | null | undefined;
    let offset = node?.range?.[0];
    for (const seg of path) {
      const next = child(this.doc, node, seg);
      if (!next) break;
      node = next.node;
      offset = next.offset ?? offset;
    }
    if (offset === undefined) return { line: 1, column: 1 };
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }
}

/** Each mapping's pairs by key, built once: a path lookup is then constant time per segment. */
const pairIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

function pairOf(map: YAMLMap, key: string): Pair | undefined {
  let index = pairIndex.get(map);
  if (!index) {
    index = new Map();
    for (const pair of map.items) {
      const k = keyOf(pair.key);
      if (k !== undefined && !index.has(k)) index.set(k, pair);
    }
    pairIndex.set(map, index);
  }
  return index.get(key);
}

/** The node at `seg` below `node`, with the offset of its key (maps) or of itself (lists). */
function child(
  doc: Document,
  node: Node | null | undefined,
  seg: PathSegment,
): { node: Node | null; offset?: number } | undefined {
  // A path through an alias continues in the anchored node (the alias's own line is kept).
  const target = isAlias(node) ? (node.resolve(doc) as Node | undefined) : node;
  if (isMap(target)) {
    const pair = pairOf(target, String(seg));
    return pair
      ? { node: pair.value as Node | null, offset: (pair.key as Node | null)?.range?.[0] }
      : undefined;
  }
  if (isSeq(target) && typeof seg === "number") {
    const item = target.items[seg] as Node | undefined;
    return item ? { node: item, offset: item.range?.[0] } : undefined;
  }
  return undefined;
}

function keyOf(key: unknown): string | undefined {
  return isScalar(key) ? String(key.value) : undefined;
}
