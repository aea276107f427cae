// Small terminal helpers shared by the commands that follow a rollout: a progress bar that
// does not rely on colour alone (done, failed and remaining have their own characters), and
// Go-style durations for flags (30m, 1h30m, 45s).
import { parseDuration } from "../../addon/hub/duration.js";
import { UsageError } from "./common.js";

/** `[####xx....] text`: # done, x failed, . remaining. */
export function progressLine(done: number, failed: number, total: number, text: string): string {
  const width = 30;
  const cells = (n: number): number => (total ? Math.round((n / total) * width) : 0);
  const d = cells(done);
  const f = Math.min(width - d, cells(failed));
  return `[${"#".repeat(d)}${"x".repeat(f)}${".".repeat(width - d - f)}] ${text}`;
}

/** Milliseconds of a Go-style duration flag; the error names the flag. */
export function parseDurationFlag(text: string, flag: string): number {
  try {
    return parseDuration(text);
  } catch (err) {
    throw new UsageError(`${flag}: ${(err as Error).message}`);
  }
}
