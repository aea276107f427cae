// The building blocks of the fleet file's zod schema (types, bounds, defaults, docs that also feed
// the editors' JSON Schema), and the one place zod's issues become located fleet problems.
import { z } from "zod";
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

/** A rule on a string that passed its type and length: the problem, or undefined. */
export type Check = (value: string) => string | undefined;

/** Adds `check`'s problem (if any) as an issue with its own message. */
const refineWith =
  (check: Check) =>
  (value: string, ctx: z.RefinementCtx): void => {
    const message = check(value);
    if (message) ctx.addIssue({ code: "custom", message, input: value });
  };

/**
 * A string of at most `maxLength` (default MAX_STRING) characters, then `check`'s rule; a
 * string too long is not checked further (its one problem is its length).
 */
export function str(doc: string, opts: { check?: Check; maxLength?: number } = {}): z.ZodString {
  const s = z.string().max(opts.maxLength ?? MAX_STRING, { abort: true });
  return (opts.check ? s.superRefine(refineWith(opts.check)) : s).describe(doc);
}

/** One of `values`; a near miss gets a "did you mean". */
export const oneOf = <const T extends readonly [string, ...string[]]>(
  doc: string,
  values: T,
): z.ZodEnum<z.core.util.ToEnum<T[number]>> => z.enum(values).describe(doc);

/** A whole number from `min` (default: none) to `max` (at most and by default MAX_INTEGER). */
export function int(doc: string, bounds: { min?: number; max?: number } = {}): z.ZodNumber {
  const n = bounds.min === undefined ? z.number() : z.number().min(bounds.min, { abort: true });
  return n
    .max(Math.min(bounds.max ?? MAX_INTEGER, MAX_INTEGER), { abort: true })
    .int()
    .describe(doc);
}

export const bool = (doc: string): z.ZodBoolean => z.boolean().describe(doc);

/**
 * A field written with no value (`key:` or `key: ~`) is a field left out: its default applies.
 * Unknown keys keep their null, so they are still refused.
 */
function nullAsAbsent(value: unknown, known: object): unknown {
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).filter(([k, v]) => v !== null || !Object.hasOwn(known, k)),
  );
}

/** A mapping with exactly these fields (an unknown one is refused with a "did you mean"). */
export const fields = <S extends z.ZodRawShape>(
  doc: string,
  shape: S,
): z.ZodPreprocess<z.ZodObject<S, z.core.$strict>> =>
  z.preprocess(v => nullAsAbsent(v, shape), z.strictObject(shape).describe(doc));

/**
 * A list of `item`s, with TALM's or the field's bounds on its length. The bounds are our own
 * rule rather than zod's .min/.max, which also measure a string given in place of the list
 * ("is 8 characters long" for `plan: [Finalize]`); the JSON Schema gets them as minItems/maxItems.
 */
export function list<T extends z.ZodType>(
  doc: string,
  item: T,
  bounds: { min?: number; max?: number } = {},
): z.ZodArray<T> {
  const { min, max } = bounds;
  const l = z.array(item).describe(doc);
  if (min === undefined && max === undefined) return l;
  return l
    .superRefine((items, ctx) => {
      const base = { origin: "array", inclusive: true, input: items } as const;
      if (min !== undefined && items.length < min)
        ctx.addIssue({ ...base, code: "too_small", minimum: min });
      if (max !== undefined && items.length > max)
        ctx.addIssue({ ...base, code: "too_big", maximum: max });
    })
    .meta({ description: doc, minItems: min, maxItems: max });
}

/** A mapping of free keys (checked by `key` when given) to `value`s. */
export const mapping = <V extends z.ZodType>(
  doc: string,
  value: V,
  key?: Check,
): z.ZodRecord<z.ZodString, V> =>
  z.record(key ? z.string().superRefine(refineWith(key)) : z.string(), value).describe(doc);

// ---- zod's issues as fleet problems ----

const doc = (iss: z.core.$ZodRawIssue): string =>
  (iss.inst as z.ZodType | undefined)?.description ?? "";

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? "" : "s"}`;

/** A value of the wrong type, in the words fleet files have always been answered with. */
function typeMessage(iss: z.core.$ZodRawIssue<z.core.$ZodIssueInvalidType>): string {
  const { input } = iss;
  const last = iss.path?.[iss.path.length - 1];
  if (input === undefined) return `is required (${doc(iss)})`;
  if (input === null && typeof last === "number") return `is empty; each item must be ${doc(iss)}`;
  switch (iss.expected) {
    case "string":
      return `must be a string, not ${show(input)}${typeof input === "number" || typeof input === "boolean" ? " (quote it)" : ""}`;
    case "number":
    case "int":
      return `must be a whole number, not ${show(input)}${typeof input === "string" ? " (unquote it)" : ""}`;
    case "boolean":
      return `must be true or false, not ${show(input)}`;
    case "array":
      return `must be a list (${doc(iss)})`;
    default:
      return `must be a mapping (${doc(iss)})`;
  }
}

function sizeMessage(
  iss: z.core.$ZodRawIssue<z.core.$ZodIssueTooBig | z.core.$ZodIssueTooSmall>,
): string | undefined {
  const { input } = iss;
  const bound = Number("maximum" in iss ? iss.maximum : iss.minimum);
  const big = iss.code === "too_big";
  if (iss.origin === "string")
    return `is ${(input as string).length} characters long; at most ${bound} are allowed`;
  if (iss.origin === "array")
    return big
      ? `has ${(input as unknown[]).length} items; at most ${bound} are allowed`
      : `must have at least ${plural(bound, "item")}`;
  if (iss.origin === "number" || iss.origin === "int")
    return `must be ${big ? "at most" : "at least"} ${bound}, not ${show(input)}`;
  return undefined;
}

/**
 * The message of one zod issue. An unrecognized_keys issue covers every unknown key of a mapping:
 * its message has one line per key, in the issue's order (toProblems splits them).
 */
function issueMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case "invalid_type":
      return typeMessage(iss);
    case "invalid_value": {
      const values = iss.values.map(String);
      if (iss.input === undefined) return `is required (${doc(iss)}: ${values.join(" or ")})`;
      if (values.length === 1) {
        const near = typeof iss.input === "string" && didYouMean(iss.input, values);
        return `must be ${values[0]}, not ${show(iss.input)}${near ? `; did you mean ${near}?` : ""}`;
      }
      // One of several words: first a word at all, as for any string.
      if (typeof iss.input !== "string")
        return typeMessage({ ...iss, code: "invalid_type", expected: "string" });
      const hint = typeof iss.input === "string" ? didYouMean(iss.input, values) : undefined;
      return `must be one of ${values.join(", ")}, not ${show(iss.input)}${hint ? `; did you mean ${hint}?` : ""}`;
    }
    case "too_big":
    case "too_small":
      return sizeMessage(iss);
    case "unrecognized_keys": {
      const known = Object.keys((iss.inst as z.ZodObject | undefined)?.shape ?? {});
      return iss.keys
        .map(key => {
          const hint = didYouMean(key, known);
          return `unknown field${hint ? `; did you mean ${hint}?` : `; known fields: ${known.join(", ")}`}`;
        })
        .join("\n");
    }
    case "invalid_key":
      return iss.issues.map(i => i.message).join("; ");
    default:
      return undefined;
  }
}

/**
 * Parses `value` with `schema`, adding every issue to `out` as a problem at `at` + its path.
 * Returns the parsed value, or after problems what passed (see `salvage`) for the rules across
 * fields, which read only the paths without problems.
 */
export function parseInto<S extends z.ZodType>(
  schema: S,
  value: unknown,
  at: readonly PathSegment[],
  out: ProblemCollector,
): { ok: true; value: z.output<S> } | { ok: false; partial: unknown } {
  const result = schema.safeParse(value, { error: issueMessage });
  if (result.success) return { ok: true, value: result.data };
  for (const iss of result.error.issues) {
    const path = [...at, ...(iss.path as PathSegment[])];
    if (iss.code === "unrecognized_keys") {
      const lines = iss.message.split("\n");
      iss.keys.forEach((key, i) => out.add([...path, key], lines[i] ?? "unknown field"));
    } else out.add(path, iss.message);
  }
  return { ok: false, partial: salvage(schema, value) };
}

/**
 * What of `value` passes `schema`, with defaults: every field or item that passes is kept, one
 * that fails is left out (undefined), and mappings and lists that fail keep their other parts.
 * This is what the old hand-written validator returned; zod returns nothing after a failure.
 */
export function salvage(schema: z.ZodType, value: unknown): unknown {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  if (schema instanceof z.ZodPipe && schema.in instanceof z.ZodTransform) {
    const pre = schema.in.safeParse(value);
    return pre.success ? salvage(schema.out as z.ZodType, pre.data) : undefined;
  }
  // A default is what a field left out gets; a field written wrong gets nothing.
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodOptional)
    return value === undefined ? undefined : salvage(schema.unwrap() as z.ZodType, value);
  if (schema instanceof z.ZodPrefault)
    return salvage(schema.unwrap() as z.ZodType, value ?? schema.def.defaultValue);
  return salvageParts(schema, value);
}

/** The parts of a list or mapping that pass; nothing for anything else that failed. */
function salvageParts(schema: z.ZodType, value: unknown): unknown {
  if (schema instanceof z.ZodArray)
    return Array.isArray(value)
      ? value.map((item: unknown) => salvage(schema.element as z.ZodType, item))
      : undefined;
  if (!isPlainObject(value)) return undefined;
  const result: Record<string, unknown> = {};
  if (schema instanceof z.ZodObject) {
    const shape: Readonly<Record<string, z.ZodType>> = schema.shape;
    for (const [key, field] of Object.entries(shape)) {
      const v = salvage(field, Object.hasOwn(value, key) ? value[key] : undefined);
      if (v !== undefined) result[key] = v;
    }
    return result;
  }
  if (schema instanceof z.ZodRecord) {
    for (const [key, v] of Object.entries(value))
      result[key] = salvage(schema.valueType as z.ZodType, v);
    return result;
  }
  return undefined;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

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
