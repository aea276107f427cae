// `ibu-gitops validate`: every problem of every fleet file, as file:line:column: path: message.
import { FleetError } from "../fleet/errors.js";
import { loadFleet } from "../fleet/load.js";
import { fleetFiles } from "./fleet-files.js";

/**
 * Loads each fleet file and reports it valid or lists its problems; goes on past a bad file so
 * one run shows everything. Returns the exit code: 0 when all are valid, 1 otherwise.
 */
export function runValidate(files: readonly string[], log: (s: string) => void): number {
  let bad = 0;
  for (const f of fleetFiles(files)) {
    try {
      const fleet = loadFleet(f);
      log(
        `${f}: fleet ${fleet.metadata.name} is valid (${fleet.spec.groups.length} groups, ${fleet.spec.flavour} flavour)`,
      );
    } catch (err) {
      if (!(err instanceof FleetError)) throw err;
      bad++;
      log(err.message);
    }
  }
  return bad ? 1 : 0;
}
