// The committed policies/ folder is exactly what the examples synthesize to (the drift gate
// `ibu-gitops synth --check` applies the same comparison).
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fleetFiles } from "../../src/cli/fleet-files.js";
import { loadFleet } from "../../src/fleet/load.js";
import { drift, readTree, synthFleet } from "../../src/synth.js";

describe("policies/", () => {
  for (const file of fleetFiles(["examples"])) {
    it(`is regenerated from ${file}`, () => {
      const fleet = loadFleet(file);
      const fresh = synthFleet(fleet);
      const d = drift(readTree(join("policies", fleet.metadata.name)), fresh);
      expect(d, "run `npm start` and commit policies/").toEqual({
        added: [],
        removed: [],
        changed: [],
      });
    });
  }
});
