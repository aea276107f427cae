// `ibu-gitops validate`: every problem of every fleet file, as file:line:column: path: message;
// a line per valid file, or `-o json|yaml` for scripts.
import { FleetError, formatProblem } from "../fleet/errors.js";
import { loadFleet } from "../fleet/load.js";
import { formatted } from "./common.js";
import { fleetFiles } from "./fleet-files.js";

export interface ValidateArgs {
  readonly files: readonly string[];
  /** `table` (a line per file, problems listed, on stderr), `json` or `yaml` (on stdout). */
  readonly output: string;
}

export interface ValidateResult {
  readonly file: string;
  readonly valid: boolean;
  readonly fleet?: string;
  readonly groups?: number;
  readonly flavour?: string;
  /** `file:line:column: path: message`, for an invalid file. */
  readonly problems?: string[];
}

/**
 * Loads each fleet file and reports it valid or lists its problems; goes on past a bad file so
 * one run shows everything. Returns the exit code: 0 when all are valid, 1 otherwise.
 */
export function runValidate(
  a: ValidateArgs,
  log: (s: string) => void,
  write: (s: string) => void,
): number {
  const results: ValidateResult[] = [];
  for (const file of fleetFiles(a.files)) {
    try {
      const fleet = loadFleet(file);
      const r = {
        file,
        valid: true,
        fleet: fleet.metadata.name,
        groups: fleet.spec.groups.length,
        flavour: fleet.spec.flavour,
      };
      results.push(r);
      if (a.output === "table")
        log(`${file}: fleet ${r.fleet} is valid (${r.groups} groups, ${r.flavour} flavour)`);
    } catch (err) {
      if (!(err instanceof FleetError)) throw err;
      results.push({ file, valid: false, problems: err.problems.map(formatProblem) });
      if (a.output === "table") log(err.message);
    }
  }
  if (a.output !== "table") write(formatted(a.output, results, () => ""));
  return results.every(r => r.valid) ? 0 : 1;
}
