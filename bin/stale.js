// Whether the compiled CLI is older than the TypeScript it was built from: the first source
// file (api/, src/, addon/) modified after `built`, or undefined. In an installed package, where only
// dist/ is shipped, there is nothing to compare and the answer is undefined. A few hundred
// stat calls: about a millisecond.
/* global URL */
/* eslint-disable @typescript-eslint/explicit-module-boundary-types -- typed in stale.d.ts */
import { readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, relative } from "node:path";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** @param {URL} built the compiled entry point @returns {string | undefined} */
export function newerSource(built) {
  let since;
  try {
    since = statSync(built).mtimeMs;
  } catch {
    return "dist/";
  }
  /** @param {string} dir @returns {string | undefined} */
  const walk = dir => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return undefined;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name === "node_modules" || e.name === "go") continue;
        const found = walk(p);
        if (found) return found;
      } else if (e.name.endsWith(".ts") && statSync(p).mtimeMs > since) return relative(ROOT, p);
    }
    return undefined;
  };
  return walk(join(ROOT, "api")) ?? walk(join(ROOT, "src")) ?? walk(join(ROOT, "addon"));
}
