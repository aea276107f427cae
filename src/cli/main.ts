#!/usr/bin/env node
// The `ibu-gitops` entry point: runs the command line (program.ts) and exits with its code:
// 0 success, 1 failure, 2 usage.
import { main } from "./program.js";
import { stopWithNpm } from "./signals.js";

stopWithNpm();
process.exitCode = await main(process.argv.slice(2));
// Long-running commands have stopped their servers and watches by now; anything left (a
// socket a library keeps) must not hold the process.
process.exit();
