// Semantic version comparison for seed and cluster versions (4.18.1, 4.19.0-rc.2).
export function compareVersions(a: string, b: string): number {
  const parse = (v: string): { nums: number[]; pre: string | undefined } => {
    const [main = "", pre] = v.split("-", 2);
    return { nums: main.split(".").map(n => Number(n) || 0), pre };
  };
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.max(x.nums.length, y.nums.length); i++) {
    const d = (x.nums[i] ?? 0) - (y.nums[i] ?? 0);
    if (d !== 0) return d;
  }
  if (x.pre === y.pre) return 0;
  if (x.pre === undefined) return 1;
  if (y.pre === undefined) return -1;
  return x.pre.localeCompare(y.pre, undefined, { numeric: true });
}

/**
 * Why LCA's version parser (coreos/go-semver) rejects `v`, in that parser's words, or
 * undefined when `v` parses: MAJOR.MINOR.PATCH, then an optional `-pre` and `+metadata`.
 */
export function versionParseError(v: string): string | undefined {
  const [beforeMeta = "", meta = ""] = splitOnce(v, "+");
  const [core = "", pre = ""] = splitOnce(beforeMeta, "-");
  const parts = core.split(".");
  if (parts.length < 3) return `${core} is not in dotted-tri format`;
  const ident = /^[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*$/;
  if (pre && !ident.test(pre))
    return `failed to validate pre-release: ${pre} is not a valid semver identifier`;
  if (meta && !ident.test(meta))
    return `failed to validate metadata: ${meta} is not a valid semver identifier`;
  // The third part is everything after the second dot, as go-semver splits at most twice.
  const nums = [parts[0] ?? "", parts[1] ?? "", parts.slice(2).join(".")];
  const bad = nums.find(n => !/^[0-9]+$/.test(n));
  return bad === undefined ? undefined : `strconv.ParseInt: parsing "${bad}": invalid syntax`;
}

const splitOnce = (s: string, sep: string): [string, string] => {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ""] : [s.slice(0, i), s.slice(i + 1)];
};
