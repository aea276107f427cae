// vitest global setup: tests that start the installed command (bin/ibu-gitops.js, which runs the
// compiled CLI) must run the code under test, so the CLI is built first when a source changed
// since the last build (bin/stale.js decides; nothing to do when it is fresh).
import { execFileSync } from "node:child_process";
import { newerSource } from "../../bin/stale.js";

export default function setup(): void {
  const changed = newerSource(new URL("../../dist/src/cli/main.js", import.meta.url));
  if (!changed) return;
  console.error(`[build] ${changed} changed since the last build: building dist/ (npm run build)`);
  execFileSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], {
    stdio: "inherit",
  });
}
