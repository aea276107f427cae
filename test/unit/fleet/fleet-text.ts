// A small valid fleet file the fleet tests vary, and the problems a variant is refused with.
import { FleetError, type FleetProblem } from "../../../src/fleet/errors.js";
import { parseFleet } from "../../../src/fleet/load.js";

/** One Prep group of one cluster; line numbers in the tests count from this text. */
export const BASE = `apiVersion: ibu-gitops.dev/v1alpha1
kind: Fleet
metadata:
  name: lab
spec:
  seedImage:
    image: registry.example.com/seed:4.18.1
    version: 4.18.1
  groups:
    - name: canary
      clusters: [sno-1]
      stage: Prep
`;

/** The problems of a fleet text; throws on any other outcome (accepted, or another error). */
export function problems(
  text: string,
  opts: Parameters<typeof parseFleet>[2] = {},
  file = "fleet.yaml",
): FleetProblem[] {
  try {
    parseFleet(text, file, opts);
  } catch (err) {
    if (err instanceof FleetError) return [...err.problems];
    throw err;
  }
  throw new Error("expected the fleet to be rejected");
}
