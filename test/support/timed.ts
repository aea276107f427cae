// Wall time and peak RSS of a process, for the benchmarks in test/bench/: the median of `runs`
// runs under GNU time (`/usr/bin/time -f "%e %M"`).
import { spawnSync } from "node:child_process";

export interface Timing {
  /** Seconds. */
  readonly wall: number;
  readonly rssMiB: number;
}

/** Runs `cmd args` in `cwd` `runs` times; throws with its stderr when a run fails. */
export function timed(
  cmd: string,
  args: readonly string[],
  cwd: string,
  runs: number,
  env: NodeJS.ProcessEnv = process.env,
): Timing {
  const samples = Array.from({ length: runs }, () => {
    const r = spawnSync("/usr/bin/time", ["-f", "%e %M", cmd, ...args], {
      cwd,
      env,
      encoding: "utf8",
      maxBuffer: 256 << 20,
    });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
    const [wall, kb] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
    return { wall: wall!, rssMiB: kb! / 1024 };
  });
  samples.sort((a, b) => a.wall - b.wall);
  return samples[Math.floor(runs / 2)]!;
}
