// LCA's apply-wave ordering (SortAndGroupByApplyWave) as the agent reproduces it: waves parsed
// by Go's strconv.Atoi rules, a missing or empty wave last (MaxInt32), LCA's error otherwise.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { APPLY_WAVE, ApplyWaveError, byWave, goAtoi } from "../../../addon/agent/stages/oadp.js";

type Obj = { metadata: { name: string; annotations?: Record<string, string> } };
const obj = (name: string, wave?: string): Obj => ({
  metadata: { name, ...(wave === undefined ? {} : { annotations: { [APPLY_WAVE]: wave } }) },
});
const names = (groups: Obj[][]): string[][] => groups.map(g => g.map(o => o.metadata.name));

describe("apply-wave ordering, as LCA's SortAndGroupByApplyWave", () => {
  it("groups ascending by number, not by text", () => {
    expect(names(byWave([obj("a", "10"), obj("b", "9"), obj("c", "-1"), obj("d", "9")]))).toEqual([
      ["c"],
      ["b", "d"],
      ["a"],
    ]);
  });

  it('puts a missing and an empty ("") wave last, as MaxInt32, in one group with an explicit 2147483647', () => {
    expect(
      names(byWave([obj("none"), obj("empty", ""), obj("max", "2147483647"), obj("first", "0")])),
    ).toEqual([["first"], ["empty", "max", "none"]]);
  });

  it("puts a wave above MaxInt32 after the objects without one", () => {
    expect(names(byWave([obj("big", "2147483648"), obj("none")]))).toEqual([["none"], ["big"]]);
  });

  it("breaks ties by name in byte order (Go's <), upper case before lower", () => {
    expect(names(byWave([obj("b", "1"), obj("a", "1"), obj("B", "1")]))).toEqual([["B", "a", "b"]]);
  });

  it("accepts what Atoi accepts: a sign and leading zeros", () => {
    expect(names(byWave([obj("plus", "+5"), obj("zeros", "005"), obj("minus", "-3")]))).toEqual([
      ["minus"],
      ["plus", "zeros"],
    ]);
  });

  it('fails with LCA\'s message on a wave that is not a number ("three")', () => {
    const run = (): unknown => byWave([obj("a", "1"), obj("b", "three")]);
    expect(run).toThrow(ApplyWaveError);
    expect(run).toThrow(/^error convert: strconv\.Atoi: parsing "three": invalid syntax$/);
  });

  it("refuses what Atoi refuses: hex, spaces, underscores, fractions, a bare sign", () => {
    for (const bad of ["0x10", " 2 ", "2 ", "1_000", "1.5", "+", "1e3", "٣"])
      expect(() => byWave([obj("a", bad)]), bad).toThrow(
        `error convert: strconv.Atoi: parsing ${JSON.stringify(bad)}: invalid syntax`,
      );
  });

  it("refuses a wave beyond int64 as out of range", () => {
    expect(() => byWave([obj("a", "9223372036854775808")])).toThrow(
      'error convert: strconv.Atoi: parsing "9223372036854775808": value out of range',
    );
    expect(
      names(byWave([obj("a", "9223372036854775807"), obj("b", "-9223372036854775808")])),
    ).toEqual([["b"], ["a"]]);
  });

  it("reports the first bad wave in LCA's order (a bad wave sorts as Atoi's 0)", () => {
    // "x" and "y" sort as 0, before "5"; of the two, by name: "b" first.
    expect(() => byWave([obj("a", "5"), obj("c", "y"), obj("b", "x")])).toThrow(
      'parsing "x": invalid syntax',
    );
  });

  it("escapes a control character in the message as Go's strconv.Quote does", () => {
    expect(goAtoi("1\n").error).toBe('strconv.Atoi: parsing "1\\n": invalid syntax');
    expect(goAtoi("\x01").error).toBe('strconv.Atoi: parsing "\\x01": invalid syntax');
  });

  it("keeps every object, each group one wave, the waves ascending (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            name: fc.stringMatching(/^[a-z0-9-]{1,8}$/),
            wave: fc.option(fc.integer({ min: -5, max: 5 }).map(String), { nil: undefined }),
          }),
        ),
        items => {
          const groups = byWave(items.map(i => obj(i.name, i.wave)));
          expect(groups.flat()).toHaveLength(items.length);
          const waveOf = (o: Obj): bigint =>
            BigInt(o.metadata.annotations?.[APPLY_WAVE] ?? "2147483647");
          const waves = groups.map(g => {
            expect(new Set(g.map(waveOf)).size).toBe(1);
            const ns = g.map(o => o.metadata.name);
            expect(ns).toEqual([...ns].sort());
            return waveOf(g[0]!);
          });
          for (let i = 1; i < waves.length; i++) expect(waves[i]! > waves[i - 1]!).toBe(true);
        },
      ),
    );
  });
});
