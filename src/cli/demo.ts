// `ibu-gitops demo`: the whole system on this machine (src/sandbox/demo.ts). Ctrl-C, or the
// end of the walk with --exit-when-done, stops everything it started.
import { writeFileSync } from "node:fs";
import { Demo } from "../sandbox/demo.js";
import { parseDurationFlag } from "./progress.js";
import { renderStatus } from "./status.js";

export interface DemoArgs {
  readonly spokes: string;
  /** "gitops" (commits through the hub stack, the default) or "stage" (`ibu-gitops stage` runs). */
  readonly driver: "gitops" | "stage";
  readonly exitWhenDone: boolean;
  readonly listen?: string;
  /** Write the end state (spokes, the hub's counts, PIDs and folders) as JSON here. */
  readonly resultFile?: string;
  readonly verbose: boolean;
  /** `--pace`: a Go duration to pause after each step. */
  readonly pace: string;
}

export async function runDemo(a: DemoArgs, write: (s: string) => void): Promise<number> {
  const spokes = Number(a.spokes);
  const paceMs = parseDurationFlag(a.pace, "--pace");
  const say = (line: string): void => write(`${line}\n`);
  const demo = new Demo({
    spokes,
    driver: a.driver,
    say,
    ...(a.verbose ? { log: (l: string) => write(`  · ${l}\n`) } : {}),
    ...(a.listen ? { listen: a.listen } : {}),
    tty: process.stdout.isTTY,
    paceMs,
  });
  let interrupted = false;
  const stopped = new Promise<void>(resolve => {
    for (const sig of ["SIGINT", "SIGTERM"] as const)
      process.once(sig, () => {
        interrupted = true;
        say("\nstopping: every process, mount and folder the demo made goes");
        resolve();
      });
  });
  const work = (async (): Promise<void> => {
    await demo.start();
    // Written now too, so a run stopped with Ctrl-C can be checked for leftovers.
    if (a.resultFile)
      writeFileSync(a.resultFile, JSON.stringify({ spokes: [], ...demo.resources() }, null, 2));
    await demo.walk();
    const result = await demo.result();
    if (a.resultFile) writeFileSync(a.resultFile, JSON.stringify(result, null, 2));
    say("\n== the fleet, as the hub sees it");
    const summary = demo.hubSummary();
    write(renderStatus(summary.summary, summary.clusters, process.stdout.isTTY));
    // With --exit-when-done the hub is about to go: no address that will not answer.
    if (!a.exitWhenDone)
      say(`\ndashboard: ${demo.dashboardUrl}  (sign in with the token in ${demo.tokenFile})`);
  })();
  try {
    await Promise.race([work, stopped]);
    if (!interrupted && !a.exitWhenDone) {
      say("done. The demo keeps running for the dashboard; Ctrl-C stops it.");
      await stopped;
    }
    return interrupted ? 130 : 0;
  } finally {
    await demo.stop();
    if (!interrupted) await work.catch(() => undefined);
  }
}
