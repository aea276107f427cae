// LCA's rules that the generator (validate, synth) and the spoke agent both apply, so both read a
// value the same way: the apply-wave annotation, parsed as Go's strconv.Atoi parses it. No imports.

/**
 * LCA's annotation ordering Backups, Restores and extra manifests in groups
 * (lifecycle-agent internal/common/manifest_helpers.go, SortAndGroupByApplyWave).
 */
export const APPLY_WAVE = "lca.openshift.io/apply-wave";

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/**
 * Go's strconv.Quote, as Atoi's errors quote the input: ASCII control characters escaped as Go
 * escapes them; other characters kept (Go writes non-printable Unicode as \u escapes).
 */
export function goQuote(s: string): string {
  const named: Record<string, string> = {
    "\x07": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
  };
  let out = "";
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (named[ch]) out += named[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `"${out}"`;
}

/**
 * Go's strconv.Atoi on a 64-bit platform (where LCA runs): an optional sign and decimal digits,
 * nothing else (no spaces, no `0x`, no `_`, no fraction). Returns the value Atoi returns (0 for
 * bad syntax, the int64 bound for an overflow) and its error message, if any.
 */
export function goAtoi(s: string): { value: bigint; error?: string } {
  if (!/^[+-]?[0-9]+$/.test(s))
    return { value: 0n, error: `strconv.Atoi: parsing ${goQuote(s)}: invalid syntax` };
  const value = BigInt(s);
  if (value > INT64_MAX || value < INT64_MIN)
    return {
      value: value > 0n ? INT64_MAX : INT64_MIN,
      error: `strconv.Atoi: parsing ${goQuote(s)}: value out of range`,
    };
  return { value };
}
