// Problems found in a fleet file, each with the file, the YAML path and the line, so a user
// can go straight to it. Validation collects all of them before failing.
import { LineCounter, isMap, isSeq, type Document, type Node } from "yaml";

export interface FleetProblem {
  readonly file: string;
  /** YAML path, e.g. `spec.groups[1].name`. */
  readonly path: string;
  /** 1-based line (0 when unknown). */
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export function formatProblem(p: FleetProblem): string {
  const where = p.line ? `${p.file}:${p.line}:${p.column}` : p.file;
  return `${where}: ${p.path || "(document)"}: ${p.message}`;
}

/** Thrown by loadFleet when a fleet file has problems; `problems` has every one of them. */
export class FleetError extends Error {
  constructor(readonly problems: readonly FleetProblem[]) {
    super(
      `${problems.length} problem${problems.length === 1 ? "" : "s"} in fleet file:\n` +
        problems.map(p => `  ${formatProblem(p)}`).join("\n"),
    );
    this.name = "FleetError";
  }
}

export type PathSegment = string | number;

export function pathString(path: readonly PathSegment[]): string {
  return path.reduce<string>(
    (acc, seg) => (typeof seg === "number" ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg),
    "",
  );
}

/** Collects problems and resolves YAML paths to lines in the source document. */
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

  /** The line of the deepest node that exists along `path` (a missing key points at its parent). */
  private position(path: readonly PathSegment[]): { line: number; column: number } {
    if (!this.doc || !this.lines) return { line: 0, column: 0 };
    let node = this.doc.contents as Node | null | undefined;
    let offset = node?.range?.[0];
    for (const seg of path) {
      const next = child(node, seg);
      if (!next) break;
      node = next.node;
      offset = next.offset ?? offset;
    }
    if (offset === undefined) return { line: 0, column: 0 };
    const { line, col } = this.lines.linePos(offset);
    return { line, column: col };
  }
}

/** The node at `seg` below `node`, with the offset of its key (maps) or of itself (lists). */
function child(
  node: Node | null | undefined,
  seg: PathSegment,
): { node: Node | null; offset?: number } | undefined {
  if (isMap(node)) {
    const pair = node.items.find(i => (i.key as { value?: unknown } | null)?.value === seg);
    return pair
      ? { node: pair.value as Node | null, offset: (pair.key as Node | null)?.range?.[0] }
      : undefined;
  }
  if (isSeq(node) && typeof seg === "number") {
    const item = node.items[seg] as Node | undefined;
    return item ? { node: item, offset: item.range?.[0] } : undefined;
  }
  return undefined;
}
