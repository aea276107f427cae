import { describe, expect, it } from "vitest";
import { parseDurationFlag, progressLine } from "../../src/cli/progress.js";

describe("progress helpers", () => {
  it("draws done, failed and remaining with their own characters", () => {
    expect(progressLine(15, 3, 30, "x")).toBe(`[${"#".repeat(15)}xxx${".".repeat(12)}] x`);
    expect(progressLine(0, 0, 0, "none")).toBe(`[${".".repeat(30)}] none`);
    expect(progressLine(10, 0, 10, "all")).toBe(`[${"#".repeat(30)}] all`);
  });

  it("parses Go-style durations and names the flag on bad input", () => {
    expect(parseDurationFlag("90s", "--t")).toBe(90_000);
    expect(parseDurationFlag("1h30m", "--t")).toBe(5_400_000);
    expect(parseDurationFlag("30m", "--t")).toBe(1_800_000);
    for (const bad of ["", "30", "1d", "m", "-5m"])
      expect(() => parseDurationFlag(bad, "--timeout")).toThrow(/^--timeout: .* is not a duration/);
  });
});
