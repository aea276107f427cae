// Each kind of bad fleet file that a mutation run found mishandled (issue 14): every one ends in
// located problems (file:line:column: path: message), never an exception or a bad output.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { scratchDir } from "../../support/scratch.js";
import { formatProblem, type FleetProblem } from "../../../src/fleet/errors.js";
import { parseFleet } from "../../../src/fleet/load.js";
import { fleetFiles } from "../../../src/cli/fleet-files.js";
import { runValidate } from "../../../src/cli/synth.js";
import { synthFleet } from "../../../src/synth.js";
import { BASE, problems as problemsOf } from "./fleet-text.js";

const problems = (text: string, file = "fleet.yaml"): FleetProblem[] => problemsOf(text, {}, file);

const messages = (p: readonly FleetProblem[]): string[] =>
  p.map(x => `${x.line}: ${x.path}: ${x.message}`);

describe("YAML syntax errors", () => {
  it("are reported at their line and column, not line 0", () => {
    const p = problems(BASE.replace("      stage: Prep", "      stage: Prep\n    name: wave-1"));
    expect(p.length).toBeGreaterThan(0);
    expect(p[0]).toEqual(
      expect.objectContaining({ line: 13, column: expect.any(Number) as number }),
    );
    expect(p[0]?.column).toBeGreaterThan(0);
    expect(p[0]?.message).toMatch(/^YAML: /);
  });

  it("nesting too deep for the parser is one located problem, not a stack overflow", () => {
    const deep = `spec: ${"{a: ".repeat(20_000)}1${"}".repeat(20_000)}\n`;
    const p = problems(BASE + deep.replace("spec", "extra"));
    expect(p).toHaveLength(1);
    expect(p[0]?.line).toBe(13);
    expect(p[0]?.message).toMatch(/nested more than \d+ levels deep/);
    expect(p[0]?.message).not.toMatch(/call stack/);
  });
});

describe("keys", () => {
  it("a key used twice in a mapping is located at its second use", () => {
    const p = problems(BASE.replace("      stage: Prep", "      stage: Prep\n      stage: Idle"));
    expect(messages(p)).toEqual([
      '13: spec.groups[0].stage: YAML: "stage" is a key already used in this mapping',
    ]);
  });

  it("a mapping as a key is a located problem, not a warning", () => {
    const p = problems(BASE.replace("  groups:", "  ? {a: 1}\n  : x\n  groups:"));
    expect(messages(p)).toEqual([
      expect.stringMatching(/^9: spec: YAML: a key must be a plain value/),
    ]);
  });
});

describe("anchors and aliases", () => {
  it("an alias to a missing anchor is located", () => {
    const p = problems(BASE.replace("  groups:\n", "  groups: [*missing]\n  wrong:\n"));
    expect(p).toContainEqual(
      expect.objectContaining({
        line: 9,
        column: 12,
        message: expect.stringMatching(/alias \*missing names no anchor defined before it/),
      }),
    );
  });

  it("an alias used before its anchor is located", () => {
    const p = problems(
      BASE.replace("    version: 4.18.1", "    version: *v").replace(
        "  groups:",
        "  x: &v 4.18.1\n  groups:",
      ),
    );
    expect(messages(p)).toContainEqual(
      expect.stringMatching(/^8: spec.seedImage.version: YAML: alias \*v names no anchor/),
    );
  });

  it("aliases that expand too much are one located problem", () => {
    let bomb = "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (let i = 1; i < 8; i++)
      bomb += `  a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(", ")}]\n`;
    const p = problems(BASE.replace("spec:\n", `spec:\n${bomb}`));
    expect(p).toHaveLength(1);
    expect(p[0]).toEqual(
      expect.objectContaining({ line: 7, message: expect.stringMatching(/aliases expand/) }),
    );
  });
});

describe("rules that span fields run only on what passed the schema", () => {
  it("a spec with only a bad seed image gets the schema's problems, not a TypeError", () => {
    const p = problems(
      "apiVersion: ibu-gitops.dev/v1alpha1\nkind: Fleet\nmetadata: {name: x}\nspec: {seedImage: {image: '@'}}\n",
    );
    expect(p.map(x => x.path)).toEqual(["spec.groups", "spec.seedImage.version"]);
  });

  it("an IBGU plan item that is not a list is a problem at that item", () => {
    const p = problems(
      BASE.replace("spec:\n", "spec:\n  flavour: ibgu\n").replace(
        "      clusters: [sno-1]\n      stage: Prep\n",
        "      selector: {matchLabels: {g: canary}}\n      plan: [Finalize]\n",
      ),
    );
    expect(messages(p)).toEqual([
      "13: spec.groups[0].plan[0]: must be a list (one plan item: up to 4 actions)",
    ]);
  });
});

describe("label selectors", () => {
  const group = (selector: string): string =>
    BASE.replace("      clusters: [sno-1]\n", `      selector: ${selector}\n`);

  it("an empty group selector is refused: it would select every managed cluster", () => {
    expect(messages(problems(group("{}")))).toEqual([
      expect.stringMatching(/^11: spec.groups\[0\].selector: is empty: it would select every/),
    ]);
    expect(messages(problems(group("{matchLabels: {}}")))).toHaveLength(1);
  });

  it("selecting every cluster is allowed when said explicitly (name Exists)", () => {
    const fleet = parseFleet(
      group("{matchExpressions: [{key: name, operator: Exists}]}"),
      "fleet.yaml",
    );
    expect(fleet.spec.groups[0]?.selector).toEqual({
      matchExpressions: [{ key: "name", operator: "Exists" }],
    });
  });

  it("group and fleet selectors are checked as the apiserver checks them", () => {
    const text = group(
      "{matchLabels: {'bad key!': x, ok: 'no spaces'}, matchExpressions: [{key: a, operator: In}, {key: b, operator: Exists, values: [x]}]}",
    ).replace(
      "spec:\n",
      "spec:\n  clusterSelector: {matchExpressions: [{key: -a, operator: NotIn, values: [x]}]}\n",
    );
    expect(messages(problems(text)).map(m => m.replace(/ \(.*$/, ""))).toEqual([
      '6: spec.clusterSelector.matchExpressions[0].key: "-a" is not a valid label key',
      '12: spec.groups[0].selector.matchLabels.bad key!: "bad key!" is not a valid label key',
      '12: spec.groups[0].selector.matchLabels.ok: "no spaces" is not a valid label value',
      "12: spec.groups[0].selector.matchExpressions[0]: In needs values",
      "12: spec.groups[0].selector.matchExpressions[1].values: Exists takes no values",
    ]);
  });
});

describe("OADP files", () => {
  function fleetWith(files: Record<string, string>): string {
    const dir = scratchDir("ibu-oadp");
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, ".."), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    return join(dir, "fleet.yaml");
  }
  const with_ = (entries: string[]): string =>
    BASE.replace(
      "spec:\n",
      `spec:\n  oadp:\n    content:\n${entries.map(e => `      - file: ${e}\n`).join("")}`,
    );
  const PAIR =
    "apiVersion: velero.io/v1\nkind: Backup\nmetadata: {name: a, namespace: openshift-adp}\n---\n" +
    "apiVersion: velero.io/v1\nkind: Restore\nmetadata: {name: a, namespace: openshift-adp}\nspec: {backupName: a}\n";

  it("a file that is a folder is refused by validate", () => {
    const file = fleetWith({ "sub/x.yaml": PAIR });
    expect(messages(problems(with_(["sub"]), file))).toEqual([
      expect.stringMatching(/^8: spec.oadp.content\[0\].file: sub is not a file/),
    ]);
  });

  it("what synth would refuse is found by validate, with the line", () => {
    const file = fleetWith({
      "nometa.yaml": "apiVersion: velero.io/v1\nkind: Backup\n",
      "pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n",
      "unpaired.yaml": "apiVersion: velero.io/v1\nkind: Backup\nmetadata: {name: a}\n",
      "ok.yaml": PAIR,
      "other/ok.yaml": PAIR,
    });
    const p = problems(
      with_(["nometa.yaml", "pod.yaml", "unpaired.yaml", "ok.yaml", "other/ok.yaml"]),
      file,
    );
    expect(messages(p)).toEqual([
      expect.stringMatching(
        /^8: spec.oadp.content\[0\].file: nometa.yaml: Backup \? has no metadata.name/,
      ),
      expect.stringMatching(
        /^9: spec.oadp.content\[1\].file: pod.yaml: Pod p: only velero.io\/v1 Backup/,
      ),
      expect.stringMatching(
        /^10: spec.oadp.content\[2\].file: unpaired.yaml: has 1 Backups and 0 Restores/,
      ),
      expect.stringMatching(/^12: spec.oadp.content\[4\].file: a second file named ok.yaml/),
    ]);
  });
});

describe("names and label values of generated objects", () => {
  it("a fleet name whose Application name would pass 253 characters is refused", () => {
    const p = problems(BASE.replace("name: lab", `name: ${"a".repeat(250)}`));
    expect(messages(p)).toEqual([
      expect.stringMatching(
        /^4: metadata.name: .*Application ibu-gitops-a+… would be 261 characters; at most 253/,
      ),
    ]);
  });

  it("a seed version that cannot be a label value is refused (long prerelease, build metadata)", () => {
    for (const v of [`4.18.1-${"rc".repeat(40)}`, "4.18.1+Build.7"]) {
      const p = problems(BASE.replace("version: 4.18.1", `version: "${v}"`));
      expect(messages(p)).toEqual([
        expect.stringMatching(/^8: spec.seedImage.version: .* is not a valid label value/),
      ]);
    }
  });
});

describe("numbers", () => {
  it("a count or percentage of zero is refused however it is written", () => {
    for (const v of ["0", "00", "00%", "0%", "007"]) {
      const p = problems(
        BASE.replace("spec:\n", `spec:\n  addon: {image: quay.io/x/y:1, maxConcurrency: "${v}"}\n`),
      );
      expect(messages(p)).toEqual([
        expect.stringMatching(/^6: spec.addon.maxConcurrency: .* is not a count or a percentage/),
      ]);
    }
  });

  it("integers have an upper bound that every reader can hold", () => {
    const p = problems(
      BASE.replace("spec:\n", "spec:\n  rollout: {prep: {timeout: 9007199254740993}}\n"),
    );
    expect(messages(p)).toEqual([
      "6: spec.rollout.prep.timeout: must be at most 2147483647, not 9007199254740992",
    ]);
  });
});

describe("strings in the output", () => {
  it("are read back as strings by YAML 1.1 and 1.2 readers", () => {
    const text = BASE.replace(
      "spec:\n",
      'spec:\n  argocd: {project: "0o17", targetRevision: "yes"}\n  catalogSources: [{name: c, image: quay.io/c:1, displayName: "yes", publisher: "0x1F"}]\n',
    );
    const files = synthFleet(parseFleet(text, "fleet.yaml"));
    const argo = files.get("argocd/argocd.yaml") ?? "";
    for (const version of ["1.1", "1.2"] as const) {
      const project = parse(argo.split("---\n")[1] ?? "", { version }) as {
        metadata: { name: string };
        spec: { project: unknown; source: { targetRevision: unknown } };
      };
      expect(project.spec.project).toBe("0o17");
      expect(project.spec.source.targetRevision).toBe("yes");
    }
    const cms = files.get("hub-configmaps.yaml") ?? "";
    const extra = parse(cms.split(/^---$/m).find(d => d.includes("catalogsources")) ?? "") as {
      data: Record<string, string>;
    };
    for (const version of ["1.1", "1.2"] as const) {
      const cs = parse(extra.data["catalogsources.yaml"] ?? "", { version }) as {
        spec: { displayName: unknown; publisher: unknown };
      };
      expect(cs.spec.displayName).toBe("yes");
      expect(cs.spec.publisher).toBe("0x1F");
    }
  });
});

describe("finding fleet files in a folder", () => {
  it("finds kind: Fleet quoted or with a comment, and skips other kinds", () => {
    const dir = scratchDir("ibu-files");
    writeFileSync(join(dir, "a.yaml"), 'apiVersion: x\nkind: "Fleet"\n');
    writeFileSync(join(dir, "b.yaml"), "kind: Fleet # note\n");
    writeFileSync(join(dir, "c.yml"), "kind: 'Fleet'\n");
    writeFileSync(join(dir, "d.yaml"), "kind: Fleets\n");
    writeFileSync(join(dir, "e.yaml"), "kind: ConfigMap\n");
    expect(fleetFiles([dir]).map(f => f.slice(dir.length + 1))).toEqual([
      "a.yaml",
      "b.yaml",
      "c.yml",
    ]);
  });
});

describe("the messages", () => {
  it("suggest the nearest field by edit distance", () => {
    const p = problems(
      BASE.replace("stage: Prep", "stgae: Prep").replace(
        "spec:\n",
        "spec:\n  addon: {image: quay.io/x/y:1, maxConcurency: '5'}\n",
      ),
    );
    expect(messages(p)).toEqual([
      "6: spec.addon.maxConcurency: unknown field; did you mean maxConcurrency?",
      "13: spec.groups[0].stgae: unknown field; did you mean stage?",
    ]);
  });

  it("are sorted by line and column", () => {
    const p = problems(
      BASE.replace("kind: Fleet", "kind: Fleets").replace("name: canary", "name: CANARY"),
    );
    const lines = p.map(x => x.line * 1e6 + x.column);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    expect(p.map(x => x.line)).toEqual([2, 10]);
  });

  it("shorten long values", () => {
    const huge = "x".repeat(5_000_000);
    const p = problems(BASE.replace("stage: Prep", `stage: ${huge}`));
    expect(p).toHaveLength(1);
    const line = formatProblem(p[0] as FleetProblem);
    expect(line.length).toBeLessThan(300);
    expect(line).toMatch(
      /^fleet.yaml:12:7: spec.groups\[0\].stage: must be one of .* not "x+…" \(5000000 characters\)$/,
    );
  });

  it("shorten long keys in the YAML path too", () => {
    const p = problems(BASE.replace("  groups:", `  ${"k".repeat(100_000)}: 1\n  groups:`));
    expect(formatProblem(p[0] as FleetProblem).length).toBeLessThan(400);
  });
});

describe("large fleets", () => {
  // Time is measured by test/bench/validate.ts; here only that such a fleet loads.
  it("10,000 clusters that are all canaries load", { timeout: 60_000 }, () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `sno-${i}`);
    const text = BASE.replace(
      "      clusters: [sno-1]\n",
      `      clusters: [${names.join(", ")}]\n      canaries: [${names.join(", ")}]\n`,
    );
    expect(parseFleet(text, "fleet.yaml").spec.groups[0]?.canaries).toHaveLength(10_000);
  });
});

describe("ibu-gitops validate", () => {
  it("reports every file's problems and exits 1", () => {
    const dir = scratchDir("ibu-validate");
    writeFileSync(join(dir, "a.yaml"), BASE.replace("stage: Prep", "stage: Nope"));
    writeFileSync(join(dir, "b.yaml"), BASE.replace("kind: Fleet\n", "kind: Fleet\nextra: 1\n"));
    writeFileSync(join(dir, "c.yaml"), BASE);
    const out: string[] = [];
    expect(
      runValidate(
        { files: [dir], out: join(dir, "policies"), output: "table" },
        s => out.push(s),
        () => undefined,
      ),
    ).toBe(1);
    const text = out.join("\n");
    expect(text).toMatch(/a\.yaml:12:7: spec\.groups\[0\]\.stage: must be one of/);
    expect(text).toMatch(/b\.yaml:3:1: extra: unknown field/);
    expect(text).toMatch(/c\.yaml: fleet lab is valid/);
  });
});
