// Small terminal helpers shared by the commands that follow a rollout: a progress bar that
// does not rely on colour alone (done, failed and remaining have their own characters), and
// Go-style durations for flags (30m, 1h30m, 45s).

/** `[####xx....] text`: # done, x failed, . remaining. */
export function progressLine(done: number, failed: number, total: number, text: string): string {
  const width = 30;
  const cells = (n: number): number => (total ? Math.round((n / total) * width) : 0);
  const d = cells(done);
  const f = Math.min(width - d, cells(failed));
  return `[${"#".repeat(d)}${"x".repeat(f)}${".".repeat(width - d - f)}] ${text}`;
}

/** Milliseconds of a duration such as 90s, 30m, 1h30m; an error naming the flag otherwise. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text.trim());
  if (!m || !text.trim() || (!m[1] && !m[2] && !m[3]))
    throw new Error(
      `${flag} must be a duration such as 90s, 30m or 1h30m, not ${JSON.stringify(text)}`,
    );
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}
