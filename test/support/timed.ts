// Wall time, CPU time and peak RSS of a process, for the benchmarks in test/bench/: one run, or
// the median of `runs` runs, under GNU time (`/usr/bin/time -f "%e %U %S %M"`).
import { spawnSync } from "node:child_process";

export interface Timing {
  /** Seconds. */
  readonly wall: number;
  /** User plus system seconds of the process and every child it waited for (a plugin too). */
  readonly cpu: number;
  /** Peak RSS of the largest single process in the tree (GNU time's %M), not their sum. */
  readonly rssMiB: number;
}

/** One run of `cmd args` in `cwd`: its timing and stdout; throws with its stderr when it fails. */
export function timedOnce(
  cmd: string,
  args: readonly string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Timing & { readonly stdout: string } {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", cmd, ...args], {
    cwd,
    env,
    encoding: "utf8",
    maxBuffer: 256 << 20,
  });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  const [wall, user, sys, kb] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
  return { wall: wall!, cpu: user! + sys!, rssMiB: kb! / 1024, stdout: r.stdout };
}

/** The median of numbers (the upper one of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The sample of median wall time (each figure of that one run, not medians of each). */
export function medianRun<T extends Timing>(samples: readonly T[]): T {
  const sorted = [...samples].sort((a, b) => a.wall - b.wall);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Runs `cmd args` in `cwd` `runs` times; throws with its stderr when a run fails. */
export function timed(
  cmd: string,
  args: readonly string[],
  cwd: string,
  runs: number,
  env: NodeJS.ProcessEnv = process.env,
): Timing {
  const { wall, cpu, rssMiB } = medianRun(
    Array.from({ length: runs }, () => timedOnce(cmd, args, cwd, env)),
  );
  return { wall, cpu, rssMiB };
}
