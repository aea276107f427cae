// Names of generated upgrade objects fit every name TALM and OCM derive from them.
import { describe, expect, it } from "vitest";
import {
  IBGU_NAME_BUDGET,
  TALM_BATCH_NAME_OVERHEAD,
  cguName,
  cguPolicies,
  fitName,
  ibguName,
  policyNames,
} from "../../src/fleet/names.js";
import { STAGE_STEPS } from "../../src/fleet/model.js";

const ztp = policyNames("group-ibu");

describe("CGU names", () => {
  it("keep the readable form when TALM's batch names still fit", () => {
    expect(cguName("canary", "prep", "4.18.1", ztp)).toBe("canary-prep-4-18-1");
    expect(cguName("c", "prep", "4.18.1", policyNames("p"))).toBe("ibu-c-prep-4-18-1");
  });

  it("leave room for <cgu>-<policy>-placement-<5> within 63 for every step, however long the group", () => {
    const groups = ["canary", "wave-1", "region-emea-far-edge-site-group-0123456789abcdefghij"];
    for (const g of groups)
      for (const step of STAGE_STEPS) {
        const name = cguName(g, step, "4.18.10-rc.1+build.7", ztp);
        expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
        for (const policy of cguPolicies(step, ztp))
          expect(
            name.length + 1 + policy.length + TALM_BATCH_NAME_OVERHEAD - 1,
          ).toBeLessThanOrEqual(63);
      }
  });

  it("shorten stably and distinctly", () => {
    const long = "region-emea-far-edge-site-group-0123456789abcdefghij";
    expect(cguName(long, "upgrade", "4.18.10", ztp)).toBe(cguName(long, "upgrade", "4.18.10", ztp));
    expect(cguName(long, "upgrade", "4.18.10", ztp)).not.toBe(
      cguName(long, "upgrade", "4.18.11", ztp),
    );
    expect(cguName(`${long}-a`, "upgrade", "4.18.10", ztp)).not.toBe(
      cguName(`${long}-b`, "upgrade", "4.18.10", ztp),
    );
  });

  it("refuse a policy prefix that leaves no room, naming spec.policyName", () => {
    const names = policyNames("a-very-long-policy-prefix-for-this-fleet");
    expect(() => cguName("g", "finalize", "4.18.1", names)).toThrow(/shorten spec\.policyName/);
  });
});

describe("IBGU names", () => {
  it("leave room for every CGU TALM makes from them: <ibgu>-<actions>-<index> within 63", () => {
    const name = ibguName(
      "region-emea-far-edge-site-group-0123456789abcdefghij",
      "4.18.10",
      "rollback",
    );
    expect(name.length).toBeLessThanOrEqual(IBGU_NAME_BUDGET);
    expect(`${name}-prep-upgrade-finalizeupgrade-5`.length).toBeLessThanOrEqual(63);
    expect(ibguName("main", "4.18.1")).toBe("ibu-main-4-18-1");
  });
});

describe("fitName", () => {
  it("takes the first candidate that fits, else a cut head, the tail and a hash", () => {
    expect(fitName(["abcdef", "abc"], { head: "h", tail: "t" }, 4)).toBe("abc");
    expect(fitName(["abcdefghijklmnop"], { head: "headline", tail: "tail" }, 13)).toMatch(
      /^hea-tail-[0-9a-z]{4}$/,
    );
    expect(fitName(["abcdefghijklmnop"], { head: "headline", tail: "tail" }, 9)).toMatch(
      /^tail-[0-9a-z]{4}$/,
    );
  });
});
