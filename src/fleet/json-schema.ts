// The fleet file's JSON Schema for editors (yaml-language-server and others), generated from the
// same zod schema that validate and synth use; committed as schema/fleet.schema.json.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { FLEET_SCHEMA } from "./model.js";

/** Where the schema is committed, relative to the repository root; examples/ link to it. */
export const FLEET_JSON_SCHEMA_FILE = "schema/fleet.schema.json";

/**
 * The JSON Schema text (draft-07, which every YAML editor plugin reads) of a fleet file as it is
 * written: types, enums, bounds, defaults, descriptions and the refusal of unknown fields. Rules
 * only code can check (RFC 1123 names, semver, selectors, rules across fields) stay with
 * `ibu-gitops validate`.
 */
export function fleetJsonSchemaText(): string {
  const schema = z.toJSONSchema(FLEET_SCHEMA, { io: "input", target: "draft-7" });
  return `${JSON.stringify({ ...schema, title: "ibu-gitops Fleet" }, null, 2)}\n`;
}

// `npm run schema`: rewrite the committed file (npm start runs it after synth).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(resolve(FLEET_JSON_SCHEMA_FILE), fleetJsonSchemaText());
  console.log(`wrote ${FLEET_JSON_SCHEMA_FILE}`);
}
