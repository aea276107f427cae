// Durations as Go and kubectl write them: "30m", "1h30m", "90s", "1h0m0s", "500ms".
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a Go-style duration; throws on anything else. */
export function parseDuration(text: string): number {
  const t = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(t))
    throw new Error(`${JSON.stringify(text)} is not a duration (examples: 30m, 1h30m, 90s)`);
  let ms = 0;
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) ms += Number(m[1]) * UNITS[m[2]!]!;
  return Math.round(ms);
}
