// The cluster's current version and LCA's parse of it (coreos/go-semver's rules and words).
import { describe, expect, it } from "vitest";
import { currentVersion } from "../../../addon/agent/stages/prep.js";
import { compareVersions, versionParseError } from "../../../addon/agent/stages/versions.js";

describe("versionParseError", () => {
  it.each(["4.18.1", "4.19.0-rc.2", "4.18.1+build.5", "4.19.0-ec.3+x"])("%s parses", v =>
    expect(versionParseError(v)).toBeUndefined(),
  );
  it.each([
    ["", " is not in dotted-tri format"],
    ["4.18", "4.18 is not in dotted-tri format"],
    ["4.18-rc.1", "4.18 is not in dotted-tri format"],
    ["4.x.1", 'strconv.ParseInt: parsing "x": invalid syntax'],
    ["4.18.1.2", 'strconv.ParseInt: parsing "1.2": invalid syntax'],
    ["4.18.1-rc..1", "failed to validate pre-release: rc..1 is not a valid semver identifier"],
    ["4.18.1+a_b", "failed to validate metadata: a_b is not a valid semver identifier"],
  ])("%j is rejected: %s", (v, why) => expect(versionParseError(v)).toBe(why));
});

describe("currentVersion (from a stateroot's name)", () => {
  it("reads LCA's rhcos_<version>, and nothing from a plain rhcos", () => {
    expect(currentVersion("rhcos_4.17.0")).toBe("4.17.0");
    expect(currentVersion("rhcos_4.19.0_rc.2")).toBe("4.19.0-rc.2");
    expect(currentVersion("rhcos")).toBeUndefined();
  });
});

describe("compareVersions", () => {
  it("orders by number, then a release above its pre-releases", () => {
    expect(compareVersions("4.18.1", "4.17.10")).toBeGreaterThan(0);
    expect(compareVersions("4.18.1", "4.18.1")).toBe(0);
    expect(compareVersions("4.19.0-rc.2", "4.19.0")).toBeLessThan(0);
  });
});
