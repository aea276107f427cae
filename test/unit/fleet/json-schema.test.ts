// The committed JSON Schema for editors is exactly what the zod schema generates, and it says
// what validate says about the examples and about common mistakes (for the parts a JSON Schema
// can express).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { FLEET_JSON_SCHEMA_FILE, fleetJsonSchemaText } from "../../../src/fleet/json-schema.js";
import { fleetFiles } from "../../../src/cli/fleet-files.js";

const committed = (): string => readFileSync(FLEET_JSON_SCHEMA_FILE, "utf8");

describe(FLEET_JSON_SCHEMA_FILE, () => {
  it("is regenerated from the zod schema", () => {
    expect(committed(), "run `npm run schema` and commit schema/").toBe(fleetJsonSchemaText());
  });

  it("is draft-07, refuses unknown fields and knows the defaults", () => {
    const schema = JSON.parse(committed()) as {
      $schema: string;
      additionalProperties: boolean;
      required: string[];
      properties: {
        spec: {
          additionalProperties: boolean;
          properties: { flavour: { default: string; enum: string[] } };
        };
      };
    };
    expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
    expect(schema.required).toEqual(["apiVersion", "kind", "metadata", "spec"]);
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.spec.additionalProperties).toBe(false);
    expect(schema.properties.spec.properties.flavour).toMatchObject({
      default: "cgu",
      enum: ["cgu", "ibgu"],
    });
  });
});

describe("every example fleet file", () => {
  for (const file of fleetFiles(["examples"])) {
    it(`${file} names the schema for YAML editors`, () => {
      const first = readFileSync(file, "utf8").split("\n")[0];
      expect(first).toBe("# yaml-language-server: $schema=../schema/fleet.schema.json");
      expect(parse(readFileSync(file, "utf8"))).toMatchObject({ kind: "Fleet" });
    });
  }
});
