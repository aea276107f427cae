// Finds fleet files: `-f` may name files or folders (every *.yaml in a folder whose kind is Fleet).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/**
 * A top-level `kind: Fleet`, plain or quoted, with or without a trailing comment. A cheap test
 * rather than a YAML parse: the file is parsed (and every problem reported) when it is loaded.
 */
const FLEET_KIND_LINE = /^kind:[ \t]*(["']?)Fleet\1[ \t]*(#.*)?$/m;

/**
 * The fleet files among `paths`: files as given (loadFleet reports a missing one), and in each
 * folder the *.yaml and *.yml files whose kind is Fleet, in name order. Unreadable files in a
 * folder are given too, so loading them reports why.
 */
export function fleetFiles(paths: readonly string[]): string[] {
  return paths.flatMap(p => {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch {
      return [p]; // loadFleet reports the missing file
    }
    if (!isDir) return [p];
    return readdirSync(p)
      .filter(f => /\.ya?ml$/.test(f))
      .sort()
      .map(f => join(p, f))
      .filter(isFleetFile);
  });
}

function isFleetFile(file: string): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    return FLEET_KIND_LINE.test(readFileSync(file, "utf8"));
  } catch {
    return true;
  }
}
