// synth reads each group's previous desired stage back from the folder it wrote.
import { describe, expect, it } from "vitest";
import { loadFleet } from "../../src/fleet/load.js";
import { previousStages, synthFleet } from "../../src/synth.js";

describe("previousStages", () => {
  it("reads back the stage of every group that has upgrade objects", () => {
    expect(previousStages(synthFleet(loadFleet("examples/fleet.yaml")))).toEqual(
      new Map([
        ["canary", "Upgrade"],
        ["wave-1", "Prep"],
      ]),
    );
    expect(previousStages(synthFleet(loadFleet("examples/fleet-ibgu.yaml")))).toEqual(
      new Map([
        ["canary", "Finalize"],
        ["lab", "Rollback"],
        ["main", "Upgrade"],
      ]),
    );
  });
});
