// A small declarative schema for fleet files: checks types, unknown fields and per-field rules,
// fills in defaults, and reports every problem with its YAML path (no stop at the first one).
import { didYouMean, show, type PathSegment, type ProblemCollector } from "./errors.js";
import { imageRefProblem } from "./image-ref.js";
import { dnsLabelProblem, dnsSubdomainProblem, labelValueProblem } from "./names.js";

/**
 * Bounds for every integer and string field unless the field says otherwise: a signed 32-bit
 * integer is what every reader of the output (Go's int32 fields, JSON's exact range) holds, and
 * 1,024 characters keeps every generated object far below the apiserver's request limits.
 */
export const MAX_INTEGER = 2_147_483_647;
export const MAX_STRING = 1024;

export type Check = (value: string) => string | undefined;

interface Base {
  readonly doc: string;
  readonly required?: boolean;
  readonly check?: Check;
}
export interface StringSchema extends Base {
  readonly type: "string";
  readonly enum?: readonly string[];
  readonly default?: string;
  /** @default MAX_STRING */
  readonly maxLength?: number;
}
export interface IntegerSchema extends Base {
  readonly type: "integer";
  readonly min?: number;
  readonly max?: number;
  readonly default?: number;
}
export interface BooleanSchema extends Base {
  readonly type: "boolean";
  readonly default?: boolean;
}
export interface ObjectSchema extends Base {
  readonly type: "object";
  readonly fields: Readonly<Record<string, Schema>>;
  /** Apply defaults of the fields even when the object is absent. */
  readonly defaultEmpty?: boolean;
}
export interface ArraySchema extends Base {
  readonly type: "array";
  readonly items: Schema;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly default?: readonly unknown[];
}
export interface MapSchema extends Base {
  readonly type: "map";
  readonly values: Schema;
}
export type Schema =
  StringSchema | IntegerSchema | BooleanSchema | ObjectSchema | ArraySchema | MapSchema;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Validates `value` against `schema`; returns it with defaults filled in. */
export function validate(
  schema: Schema,
  value: unknown,
  path: PathSegment[],
  out: ProblemCollector,
): unknown {
  if (value === undefined || value === null) return absent(schema, path, out);
  const result = byType(schema, value, path, out);
  if (result !== undefined && schema.check) {
    const msg = schema.check(result as string);
    if (msg) out.add(path, msg);
  }
  return result;
}

function absent(schema: Schema, path: PathSegment[], out: ProblemCollector): unknown {
  if (schema.required) {
    out.add(path, `is required (${schema.doc})`);
    return undefined;
  }
  if (schema.type === "object" && schema.defaultEmpty) return validate(schema, {}, path, out);
  return "default" in schema ? schema.default : undefined;
}

function byType(
  schema: Schema,
  value: unknown,
  path: PathSegment[],
  out: ProblemCollector,
): unknown {
  switch (schema.type) {
    case "string":
      return checkString(schema, value, path, out);
    case "integer":
      return checkInteger(schema, value, path, out);
    case "boolean":
      if (typeof value === "boolean") return value;
      out.add(path, `must be true or false, not ${show(value)}`);
      return undefined;
    case "object":
      return checkObject(schema, value, path, out);
    case "array":
      return checkArray(schema, value, path, out);
    case "map":
      return checkMap(schema, value, path, out);
  }
}

function checkString(
  schema: StringSchema,
  value: unknown,
  path: PathSegment[],
  out: ProblemCollector,
): unknown {
  if (typeof value !== "string") {
    out.add(
      path,
      `must be a string, not ${show(value)}${typeof value === "number" || typeof value === "boolean" ? " (quote it)" : ""}`,
    );
    return undefined;
  }
  if (schema.enum && !schema.enum.includes(value)) {
    const hint = didYouMean(value, schema.enum);
    out.add(
      path,
      `must be one of ${schema.enum.join(", ")}, not ${show(value)}${hint ? `; did you mean ${hint}?` : ""}`,
    );
    return undefined;
  }
  const max = schema.maxLength ?? MAX_STRING;
  if (value.length > max) {
    out.add(path, `is ${value.length} characters long; at most ${max} are allowed`);
    return undefined;
  }
  return value;
}

function checkInteger(
  schema: IntegerSchema,
  value: unknown,
  path: PathSegment[],
  out: ProblemCollector,
): unknown {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    out.add(
      path,
      `must be a whole number, not ${show(value)}${typeof value === "string" ? " (unquote it)" : ""}`,
    );
    return undefined;
  }
  const max = Math.min(schema.max ?? MAX_INTEGER, MAX_INTEGER);
  if (schema.min !== undefined && value < schema.min) {
    out.add(path, `must be at least ${schema.min}, not ${value}`);
    return undefined;
  }
  if (value > max) {
    out.add(path, `must be at most ${max}, not ${value}`);
    return undefined;
  }
  return value;
}

function checkObject(
  schema: ObjectSchema,
  value: unknown,
  path: PathSegment[],
  out: ProblemCollector,
): unknown {
  if (!isPlainObject(value)) {
    out.add(path, `must be a mapping (${schema.doc})`);
    return undefined;
  }
  const known = Object.keys(schema.fields);
  for (const key of Object.keys(value)) {
    if (!Object.hasOwn(schema.fields, key)) {
      const hint = didYouMean(key, known);
      out.add(
        [...path, key],
        `unknown field${hint ? `; did you mean ${hint}?` : `; known fields: ${known.join(", ")}`}`,
      );
    }
  }
  const result: Record<string, unknown> = {};
  for (const [key, fieldSchema] of Object.entries(schema.fields)) {
    const v = validate(
      fieldSchema,
      Object.hasOwn(value, key) ? value[key] : undefined,
      [...path, key],
      out,
    );
    if (v !== undefined) result[key] = v;
  }
  return result;
}

function checkArray(
  schema: ArraySchema,
  value: unknown,
  path: PathSegment[],
  out: ProblemCollector,
): unknown {
  if (!Array.isArray(value)) {
    out.add(path, `must be a list (${schema.doc})`);
    return undefined;
  }
  if (schema.minItems !== undefined && value.length < schema.minItems) {
    out.add(path, `must have at least ${schema.minItems} item${schema.minItems === 1 ? "" : "s"}`);
  }
  if (schema.maxItems !== undefined && value.length > schema.maxItems) {
    out.add(path, `has ${value.length} items; at most ${schema.maxItems} are allowed`);
  }
  return value.map((item, i) => {
    if (item === null || item === undefined) {
      out.add([...path, i], `is empty; each item must be ${schema.items.doc}`);
      return undefined;
    }
    return validate(schema.items, item, [...path, i], out);
  });
}

function checkMap(
  schema: MapSchema,
  value: unknown,
  path: PathSegment[],
  out: ProblemCollector,
): unknown {
  if (!isPlainObject(value)) {
    out.add(path, `must be a mapping (${schema.doc})`);
    return undefined;
  }
  const result: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    result[k] = validate(schema.values, v, [...path, k], out);
  return result;
}

// ---- rules shared by fleet fields ----

/** RFC 1123 label (namespaces, cluster and group names). */
export const dnsLabel: Check = dnsLabelProblem;

/** RFC 1123 subdomain (object names): at most 253 characters. */
export const dnsSubdomain: Check = dnsSubdomainProblem;

const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

/**
 * The seed's OpenShift version: semver (LCA compares it with the cluster's version), and a valid
 * label value, because LCA picks the extra manifests labelled `lca.openshift.io/target-ocp-version`
 * with this very value; so no build metadata (`+...`) and at most 63 characters.
 */
export const seedVersion: Check = (v: string) => {
  if (!SEMVER.test(v))
    return `${show(v)} is not a semantic version such as 4.18.1 (LCA compares it with the cluster's version)`;
  const label = labelValueProblem(v);
  return label
    ? `${label}; LCA matches the version against the lca.openshift.io/target-ocp-version label`
    : undefined;
};

/** An image reference as podman and the kubelet read it (src/fleet/image-ref.ts). */
export const imageRef: Check = imageRefProblem;
