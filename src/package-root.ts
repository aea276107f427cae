// The project's root folder (where package.json and templates/ live), found from this module's
// location so it works both from src/ (tsx) and from the compiled dist/src/.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (
      existsSync(pkg) &&
      (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "ibu-gitops"
    ) {
      cached = dir;
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error(
        "cannot find the ibu-gitops package root above " + fileURLToPath(import.meta.url),
      );
    dir = parent;
  }
}
