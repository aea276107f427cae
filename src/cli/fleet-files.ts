// Finds fleet files: `-f` may name files or folders (every *.yaml in a folder whose kind is Fleet).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

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
      .filter(f => /^kind:\s*Fleet\s*$/m.test(readFileSync(f, "utf8")));
  });
}
