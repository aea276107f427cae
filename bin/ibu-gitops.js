#!/usr/bin/env node
// The installed `ibu-gitops` command: the compiled CLI in dist/ (`npm run build`, which `npm ci`
// runs through `prepare`), never a TypeScript loader, which takes longer to load than most
// commands take to run. In a checkout whose sources changed since the build it says so.
/* global process, URL */
import { existsSync } from "node:fs";
import { newerSource } from "./stale.js";

const main = new URL("../dist/src/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  process.stderr.write(
    "ibu-gitops: not built: run `npm run build` in the package folder (`npm ci` builds it)\n",
  );
  process.exit(1);
}
const changed = process.env.IBU_GITOPS_NO_STALE_CHECK ? undefined : newerSource(main);
if (changed)
  process.stderr.write(
    `ibu-gitops: warning: ${changed} changed since the last build; run \`npm run build\`\n`,
  );
await import(main.href);
