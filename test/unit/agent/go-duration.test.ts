// LCA's rollback messages print durations the way Go does.
import { describe, expect, it } from "vitest";
import { goDuration } from "../../../addon/agent/stages/upgrade.js";

describe("goDuration", () => {
  it.each([
    [3, "3s"],
    [1800, "30m0s"],
    [3600, "1h0m0s"],
    [5430, "1h30m30s"],
  ])("%d s → %s", (s, text) => expect(goDuration(s)).toBe(text));
});
