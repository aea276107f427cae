// Finds fleet files: `-f` may name files or folders (every *.yaml, *.yml and *.json in a folder
// whose kind or apiVersion is a fleet's); a folder with none, or a kind near Fleet, is an error.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { LineCounter, isMap, isScalar, parseDocument, type Scalar } from "yaml";
import { FleetError, didYouMean, show, type FleetProblem } from "../fleet/errors.js";
import { MAX_FLEET_FILE_BYTES } from "../fleet/load.js";
import { FLEET_API_VERSION, FLEET_KIND } from "../fleet/model.js";
import { decodeAnyway } from "../fleet/text.js";

/**
 * A top-level `kind: Fleet`, plain or quoted, with or without a trailing comment: the cheap test
 * that settles almost every file; others (JSON, flow style, tags) are parsed.
 */
const FLEET_KIND_LINE = /^kind:[ \t]*(["']?)Fleet\1[ \t]*(#.*)?$/m;

/**
 * The fleet files among `paths`: files as given (loadFleet reports a missing one), and in each
 * folder the *.yaml, *.yml and *.json files whose kind is Fleet or whose apiVersion is the fleet
 * file's (so loading reports a kind missing or wrong there), in name order. Unreadable files and
 * files in another encoding than UTF-8 are given too, so loading them reports why.
 * @throws FleetError when a folder holds no fleet file, or a file whose top-level kind is a
 * near miss of Fleet (`fleet`, `Flet`): each located, with a "did you mean"
 */
export function fleetFiles(paths: readonly string[]): string[] {
  const { files, problems } = findFleetFiles(paths);
  if (problems.length) throw new FleetError(problems);
  return files;
}

/**
 * fleetFiles without throwing: the fleet files found and the problems met, so a command can
 * report them beside the problems of the files it found.
 */
export function findFleetFiles(paths: readonly string[]): {
  files: string[];
  problems: FleetProblem[];
} {
  const problems: FleetProblem[] = [];
  const files = paths.flatMap(p => {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      return [p]; // loadFleet reports the missing file
    }
    if (!isDir) return [p];
    const candidates = readdirSync(p)
      .filter(f => /\.(ya?ml|json)$/.test(f))
      .sort()
      .map(f => join(p, f));
    const before = problems.length;
    const found = candidates.filter(f => {
      const kind = fileKind(f);
      if (kind.nearMiss) problems.push(kind.nearMiss);
      return kind.fleet;
    });
    if (!found.length && problems.length === before)
      problems.push({
        file: p,
        path: "",
        line: 0,
        column: 0,
        message: `no file with kind: ${FLEET_KIND} found in this folder (looked at ${candidates.length} *.yaml, *.yml and *.json files)`,
      });
    return found;
  });
  return { files, problems };
}

/** Whether a file is a fleet file, or a problem when its kind is a near miss of Fleet. */
function fileKind(file: string): { fleet: boolean; nearMiss?: FleetProblem } {
  let text: string;
  try {
    const st = statSync(file);
    if (!st.isFile()) return { fleet: false };
    if (st.size > MAX_FLEET_FILE_BYTES) return { fleet: false };
    // Decoded whatever the encoding, only to see what the file is: a fleet file in UTF-16 or
    // Latin-1 is loaded, and refused for its encoding, rather than skipped.
    text = decodeAnyway(readFileSync(file));
  } catch {
    return { fleet: true };
  }
  if (FLEET_KIND_LINE.test(text)) return { fleet: true };
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: false });
  const top = (key: string): { key: Scalar; value?: Scalar } | undefined => {
    const pair = isMap(doc.contents)
      ? doc.contents.items.find(i => isScalar(i.key) && i.key.value === key)
      : undefined;
    if (!pair || !isScalar(pair.key)) return undefined;
    return { key: pair.key, value: isScalar(pair.value) ? pair.value : undefined };
  };
  const kind = top("kind")?.value?.value;
  if (kind === FLEET_KIND || top("apiVersion")?.value?.value === FLEET_API_VERSION)
    return { fleet: true };
  if (typeof kind !== "string" || didYouMean(kind, [FLEET_KIND]) !== FLEET_KIND)
    return { fleet: false };
  // At the entry's start, as every problem with a YAML path (ProblemCollector).
  const { line, col } = lines.linePos(top("kind")?.key.range?.[0] ?? 0);
  return {
    fleet: false,
    nearMiss: {
      file,
      path: "kind",
      line,
      column: col,
      message: `${show(kind)} is not a kind this tool reads; did you mean ${FLEET_KIND}? (the file is skipped until it says kind: ${FLEET_KIND})`,
    },
  };
}
