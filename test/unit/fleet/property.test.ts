// Property: any fleet file — generated, or one of the examples, then mutated in its data or its
// text — either loads and synthesizes into objects every reader reads alike, or is refused with
// located, sorted, bounded problems; never an exception. CI runs a fixed seed and a bounded
// number of cases; FLEET_PROPERTY_RUNS=20000 (and FLEET_PROPERTY_SEED=n) run it longer by hand.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { FleetError, formatProblem, sortProblems } from "../../../src/fleet/errors.js";
import { parseFleet } from "../../../src/fleet/load.js";
import { DESIRED_STAGES } from "../../../src/fleet/model.js";
import { synthFleet } from "../../../src/synth.js";

const RUNS = Number(process.env.FLEET_PROPERTY_RUNS ?? 150);
const SEED = Number(process.env.FLEET_PROPERTY_SEED ?? 14);

/** Examples live in examples/, so their OADP file resolves as it does for users. */
const EXAMPLES = ["examples/fleet.yaml", "examples/fleet-ibgu.yaml"].map(file => ({
  file,
  data: parse(readFileSync(file, "utf8")) as unknown,
}));

// ---- generated fleets ----

const dnsLabel = fc.stringMatching(/^[a-z]([-a-z0-9]{0,10}[a-z0-9])?$/);
const stage = fc.constantFrom(...DESIRED_STAGES);
const selector = fc.oneof(
  fc.record({ matchLabels: fc.dictionary(dnsLabel, dnsLabel, { minKeys: 1, maxKeys: 2 }) }),
  fc.record({
    matchExpressions: fc.array(
      fc.oneof(
        fc.record({
          key: dnsLabel,
          operator: fc.constantFrom("In", "NotIn"),
          values: fc.array(dnsLabel, { minLength: 1, maxLength: 3 }),
        }),
        fc.record({ key: dnsLabel, operator: fc.constantFrom("Exists", "DoesNotExist") }),
      ),
      { minLength: 1, maxLength: 2 },
    ),
  }),
);
const group = fc
  .record({
    name: dnsLabel,
    clusters: fc.uniqueArray(dnsLabel, { maxLength: 5 }),
    selector: fc.option(selector, { nil: undefined }),
    stage,
    canaryCount: fc.nat(2),
  })
  .map(({ canaryCount, ...g }) => ({ ...g, canaries: g.clusters.slice(0, canaryCount) }));

const generatedFleet = fc.record({
  apiVersion: fc.constant("ibu-gitops.dev/v1alpha1"),
  kind: fc.constant("Fleet"),
  metadata: fc.record({ name: dnsLabel }),
  spec: fc.record(
    {
      flavour: fc.constantFrom("cgu", "ibgu"),
      policyName: dnsLabel,
      seedImage: fc.record({
        image: fc.constantFrom("quay.io/seed:4.18.1", "r.example.com/s@sha256:abc"),
        version: fc.constantFrom("4.18.1", "4.19.0-rc.1", "4.18.1-ec.3"),
      }),
      groups: fc.array(group, { minLength: 1, maxLength: 4 }),
      catalogSources: fc.array(
        fc.record({
          name: dnsLabel,
          image: fc.constant("quay.io/idx:v1"),
          displayName: fc.string(),
        }),
        { maxLength: 2 },
      ),
      argocd: fc.record({
        project: dnsLabel,
        targetRevision: fc.constantFrom("main", "yes", "0o17"),
      }),
    },
    { requiredKeys: ["seedImage", "groups"] },
  ),
});

// ---- mutations ----

/** Values a mutation puts in place of another: wrong types, edge numbers, YAML look-alikes. */
const junk = fc.oneof(
  fc.constantFrom(
    "",
    "yes",
    "0o17",
    "00",
    "00%",
    "0",
    "~",
    "null",
    "@",
    "4.18.1+Build.7",
    "Exists",
    "In",
    "x".repeat(300),
    "a".repeat(70),
    "-a",
    "a/b/c",
    "../x",
  ),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.constantFrom(0, -1, 2 ** 31, 2 ** 53 + 1, 1.5, Number.NaN),
  fc.boolean(),
  fc.constant(null),
  fc.constant({}),
  fc.constant([]),
  fc.constant([["Finalize"]]),
  fc.constant(["Finalize"]),
  fc.constant({ matchLabels: {} }),
  fc.constant({ matchExpressions: [{ key: "a", operator: "In" }] }),
);

type Path = Array<string | number>;

function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v && typeof v === "object")
    for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

function parentOf(root: unknown, path: Path): Record<string | number, unknown> | undefined {
  let node = root as Record<string | number, unknown> | undefined;
  for (const seg of path.slice(0, -1)) node = node?.[seg] as typeof node;
  return node && typeof node === "object" ? node : undefined;
}

type DataMutation = (root: unknown, pick: number, value: unknown, word: string) => void;

const DATA_MUTATIONS: DataMutation[] = [
  // replace a value
  (root, pick, value) => {
    const all = paths(root).filter(p => p.length);
    const p = all[pick % all.length];
    const parent = p && parentOf(root, p);
    if (p && parent) parent[p[p.length - 1] as string] = value;
  },
  // delete a key or list item
  (root, pick) => {
    const all = paths(root).filter(p => p.length);
    const p = all[pick % all.length];
    const parent = p && parentOf(root, p);
    if (!p || !parent) return;
    const last = p[p.length - 1] as string | number;
    if (Array.isArray(parent) && typeof last === "number") parent.splice(last, 1);
    else delete parent[last];
  },
  // misspell a key, or add a key
  (root, pick, value, word) => {
    const maps = paths(root).filter(p => {
      const n = p.reduce<unknown>((a, s) => (a as Record<string, unknown>)?.[s], root);
      return n !== null && typeof n === "object" && !Array.isArray(n);
    });
    const p = maps[pick % maps.length] ?? [];
    const map = p.reduce<unknown>((a, s) => (a as Record<string, unknown>)?.[s], root) as Record<
      string,
      unknown
    >;
    const keys = Object.keys(map);
    const key = keys[pick % Math.max(1, keys.length)];
    if (key && word.length % 2) {
      const typo =
        key.length > 2
          ? key.slice(0, 1) + key.slice(2, 3) + key.slice(1, 2) + key.slice(3)
          : `${key}x`;
      map[typo] = map[key];
      delete map[key];
    } else map[word || "extra"] = value;
  },
  // duplicate a list item (clusters in two groups, groups twice, OADP entries twice)
  (root, pick) => {
    const lists = paths(root).filter(p =>
      Array.isArray(p.reduce<unknown>((a, s) => (a as Record<string, unknown>)?.[s], root)),
    );
    const p = lists[pick % Math.max(1, lists.length)];
    if (!p) return;
    const list = p.reduce<unknown>(
      (a, s) => (a as Record<string, unknown>)?.[s],
      root,
    ) as unknown[];
    if (list.length) list.push(structuredClone(list[pick % list.length]));
  },
];

/** Pieces a text mutation inserts: YAML's indicators, anchors and aliases, deep nesting. */
const textPiece = fc.oneof(
  fc.constantFrom(
    "-",
    ":",
    ": ",
    "[",
    "]",
    "{",
    "}",
    "*a",
    "&a ",
    "*missing",
    "'",
    '"',
    "#",
    " ",
    "  ",
    "\n",
    "\t",
    "? ",
    "!!binary ",
    "<<: ",
    "---\n",
    "%YAML 1.1\n",
    "[".repeat(200),
    "{a: ".repeat(100),
  ),
  fc.string({ maxLength: 8 }),
);

const textMutation = fc.record({ at: fc.nat(), del: fc.nat(6), piece: textPiece });

function mutateText(text: string, m: { at: number; del: number; piece: string }): string {
  const at = m.at % (text.length + 1);
  return text.slice(0, at) + m.piece + text.slice(at + m.del);
}

const fleetCase = fc.record({
  base: fc.oneof(
    fc.constantFrom(...EXAMPLES).map(e => ({ file: e.file, data: structuredClone(e.data) })),
    generatedFleet.map(data => ({ file: "generated/fleet.yaml", data: data })),
  ),
  dataMutations: fc.array(
    fc.record({
      kind: fc.nat(DATA_MUTATIONS.length - 1),
      pick: fc.nat(),
      value: junk,
      word: fc.constantFrom("", "stgae", "maxConcurency", "selector", "x", "cluster"),
    }),
    { maxLength: 3 },
  ),
  // Most text mutations break the YAML; keep half the cases valid YAML so synth runs often.
  textMutations: fc.oneof(fc.constant([]), fc.array(textMutation, { minLength: 1, maxLength: 2 })),
});

// ---- the property ----

const INTERNAL =
  /Cannot read properties|is not a function|is not iterable|undefined|\[object Object\]|call stack/;

function checkRefusal(err: unknown): void {
  if (!(err instanceof FleetError)) throw err;
  const problems = err.problems;
  expect(problems.length).toBeGreaterThan(0);
  expect(problems).toEqual(sortProblems(problems));
  for (const p of problems) {
    expect(p.line, formatProblem(p)).toBeGreaterThanOrEqual(1);
    expect(p.column, formatProblem(p)).toBeGreaterThanOrEqual(1);
    expect(p.message, formatProblem(p)).not.toMatch(INTERNAL);
    expect(p.message).not.toContain("\n");
    expect(formatProblem(p).length, formatProblem(p)).toBeLessThan(800);
  }
}

/** Every YAML text in the output (files and ConfigMap data) reads the same under 1.1 and 1.2. */
function checkOutput(files: Map<string, string>): void {
  for (const [file, text] of files) {
    const as11 = parseAllDocuments(text, { version: "1.1" }).map(d => d.toJS() as unknown);
    const as12 = parseAllDocuments(text, { version: "1.2" }).map(d => d.toJS() as unknown);
    expect(as12, file).toEqual(as11);
    for (const doc of as12) {
      const data = (doc as { kind?: string; data?: Record<string, string> }).data;
      if ((doc as { kind?: string }).kind !== "ConfigMap" || !data) continue;
      for (const [key, value] of Object.entries(data)) {
        if (!key.endsWith(".yaml")) continue;
        const in11 = parseAllDocuments(value, { version: "1.1" }).map(d => d.toJS() as unknown);
        const in12 = parseAllDocuments(value, { version: "1.2" }).map(d => d.toJS() as unknown);
        expect(in12, `${file} ${key}`).toEqual(in11);
      }
    }
  }
}

describe("any fleet file, mutated", () => {
  it("loads and synthesizes into objects every YAML reader reads alike, or is refused with located problems", () => {
    fc.assert(
      fc.property(fleetCase, c => {
        const data = c.base.data;
        for (const m of c.dataMutations)
          DATA_MUTATIONS[m.kind]?.(data, m.pick, structuredClone(m.value), m.word);
        let text = stringify(data);
        for (const m of c.textMutations) text = mutateText(text, m);
        let fleet;
        try {
          fleet = parseFleet(text, c.base.file);
        } catch (err) {
          checkRefusal(err);
          return;
        }
        // validate passed: synth must neither throw nor refuse (it checks every object itself).
        checkOutput(synthFleet(fleet));
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
  }, 600_000);
});
