// Each kind of bad fleet file that a mutation run found mishandled (issue 14): every one ends in
// located problems (file:line:column: path: message), never an exception or a bad output.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { scratchDir } from "../../support/scratch.js";
import { FleetError, formatProblem, type FleetProblem } from "../../../src/fleet/errors.js";
import { loadFleet, parseFleet } from "../../../src/fleet/load.js";
import { fleetFiles } from "../../../src/cli/fleet-files.js";
import { main } from "../../../src/cli/program.js";
import { runSynth, runValidate } from "../../../src/cli/synth.js";
import { synthFleet, writeTree } from "../../../src/synth.js";
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

describe("tags", () => {
  it("an unknown tag is refused at its entry, on a value, a list item or a mapping", () => {
    const p = problems(
      BASE.replace("stage: Prep", "stage: !foo Prep")
        .replace("[sno-1]", "[!bar sno-1]")
        .replace("  seedImage:", "  seedImage: !baz"),
    );
    expect(messages(p)).toEqual([
      "6: spec.seedImage: YAML: unknown tag !baz; a fleet file takes plain values (remove the tag)",
      "11: spec.groups[0].clusters[0]: YAML: unknown tag !bar; a fleet file takes plain values (remove the tag)",
      "12: spec.groups[0].stage: YAML: unknown tag !foo; a fleet file takes plain values (remove the tag)",
    ]);
  });

  it("a value of a known tag is named by the type the YAML reader made of it", () => {
    const p = problems(
      BASE.replace("stage: Prep", "stage: !!binary aGVsbG8=").replace("[sno-1]", "!!set {sno-1}"),
    );
    expect(messages(p)).toEqual([
      "11: spec.groups[0].clusters: must be a list (ManagedCluster names)",
      "12: spec.groups[0].stage: must be a string, not binary data (!!binary)",
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
    expect(p.map(x => x.path)).toEqual([
      "spec.groups",
      "spec.seedImage.version",
      "spec.seedImage.image",
    ]);
  });

  it("schema problems and the generator's rules are reported together, at once", () => {
    const p = problems(
      BASE.replace("name: lab", "name: lab\n  x: 1")
        .replace("stage: Prep", "stage: Nope")
        .replace(
          "spec:\n",
          "spec:\n  flavour: ibgu\n  rollout: {prep: {batchTimeoutAction: Abort}}\n  ibuAnnotations: {foo: bar}\n  hub: {ownedNamespaces: [default]}\n",
        ),
    );
    expect(p.map(x => `${x.line}: ${x.path}`)).toEqual([
      "5: metadata.x",
      "8: spec.rollout.prep.batchTimeoutAction",
      "9: spec.ibuAnnotations.foo",
      "10: spec.hub.ownedNamespaces[0]",
      "16: spec.groups[0].clusters",
      "17: spec.groups[0].stage",
    ]);
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
        /^8: spec.oadp.content\[0\].file: nometa.yaml:1:1: Backup \? has no metadata.name/,
      ),
      expect.stringMatching(
        /^9: spec.oadp.content\[1\].file: pod.yaml:1:1: Pod p: only velero.io\/v1 Backup/,
      ),
      expect.stringMatching(
        /^10: spec.oadp.content\[2\].file: unpaired.yaml: has 1 Backups and 0 Restores/,
      ),
      expect.stringMatching(/^12: spec.oadp.content\[4\].file: a second file named ok.yaml/),
    ]);
  });

  const waved = (wave: string): string =>
    PAIR.replace(
      "kind: Restore\nmetadata: {name: a, namespace: openshift-adp}",
      `kind: Restore\nmetadata:\n  name: a\n  annotations:\n    lca.openshift.io/apply-wave: ${wave}`,
    );

  it("an apply-wave LCA cannot read as an integer is refused at its line in the OADP file", () => {
    for (const wave of ['"three"', '"0x10"', '" 2 "', '"1.5"', '"99999999999999999999"', "3"]) {
      const file = fleetWith({ "w.yaml": waved(wave) });
      expect(messages(problems(with_(["w.yaml"]), file)), wave).toEqual([
        expect.stringMatching(
          /^8: spec.oadp.content\[0\].file: w.yaml:10:5: Restore a: metadata.annotations.lca.openshift.io\/apply-wave: /,
        ),
      ]);
    }
  });

  it("an apply-wave Atoi reads is accepted, and an empty one counts as none (as in LCA)", () => {
    for (const wave of ['"3"', '"-1"', '"+2"', '"007"', '""']) {
      const file = fleetWith({ "w.yaml": waved(wave) });
      expect(parseFleet(with_(["w.yaml"]), file).spec.oadp.content).toHaveLength(1);
    }
  });

  it("synth refuses a bad apply-wave in a file changed after validation, with its line", () => {
    const file = fleetWith({ "w.yaml": waved('"3"') });
    writeFileSync(file, with_(["w.yaml"]));
    const fleet = loadFleet(file);
    writeFileSync(join(file, "..", "w.yaml"), waved('"three"'));
    expect(() => synthFleet(fleet)).toThrow(
      /fleet\.yaml:8:9: spec\.oadp\.content\[0\]\.file: w\.yaml:10:5: Restore a: .*"three" is not an integer/,
    );
  });

  it("an OADP file that is not UTF-8 is refused at the bad byte", () => {
    const file = fleetWith({});
    writeFileSync(
      join(file, "..", "l1.yaml"),
      Buffer.concat([Buffer.from(`${PAIR}# caf`), Buffer.from([0xe9]), Buffer.from("\n")]),
    );
    expect(messages(problems(with_(["l1.yaml"]), file))).toEqual([
      expect.stringMatching(/^8: spec.oadp.content\[0\].file: l1.yaml:9:6: byte 0xE9 is not UTF-8/),
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
      BASE.replace("spec:\n", "spec:\n  rollout: {prep: {timeout: 2147483648}}\n"),
    );
    expect(messages(p)).toEqual([
      "6: spec.rollout.prep.timeout: must be at most 2147483647, not 2147483648",
    ]);
  });

  it("a number beyond 2^53 is too large, and never echoed rounded", () => {
    const p = problems(
      BASE.replace("spec:\n", "spec:\n  rollout: {prep: {timeout: 9007199254740993}}\n"),
    );
    expect(messages(p)).toEqual([
      "6: spec.rollout.prep.timeout: YAML: the number 9007199254740993 is too large to be read exactly (beyond 2^53 = 9007199254740991)",
    ]);
    expect(formatProblem(p[0] as FleetProblem)).toMatch(/^fleet.yaml:6:20: /);
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
    writeFileSync(join(dir, "d.yaml"), "kind: FleetConfig\n");
    writeFileSync(join(dir, "e.yaml"), "kind: ConfigMap\n");
    writeFileSync(join(dir, "f.json"), '{"apiVersion": "x", "kind": "Fleet"}\n');
    writeFileSync(join(dir, "g.yaml"), "{apiVersion: x,\n kind: Fleet}\n");
    writeFileSync(join(dir, "h.json"), '{"name": "not a fleet"}\n');
    expect(fleetFiles([dir]).map(f => f.slice(dir.length + 1))).toEqual([
      "a.yaml",
      "b.yaml",
      "c.yml",
      "f.json",
      "g.yaml",
    ]);
  });

  it("a folder with no fleet file is an error naming the folder", () => {
    const dir = scratchDir("ibu-files");
    writeFileSync(join(dir, "cm.yaml"), "kind: ConfigMap\n");
    expect(() => fleetFiles([dir])).toThrow(
      new RegExp(`${dir}: no file with kind: Fleet found in this folder \\(looked at 1 `),
    );
  });

  it("a kind that is a near miss of Fleet is located, with a did-you-mean", () => {
    for (const kind of ["fleet", "Flet", '"FLEET"']) {
      const dir = scratchDir("ibu-files");
      const text = BASE.replace("kind: Fleet", `kind: ${kind}`);
      writeFileSync(join(dir, "a.yaml"), text.replace("ibu-gitops.dev/v1alpha1", "example.com/v1"));
      expect(() => fleetFiles([dir]), kind).toThrow(
        /a\.yaml:2:1: kind: .* is not a kind this tool reads; did you mean Fleet\?/,
      );
    }
  });

  it("a file with the fleet's apiVersion and no kind, or another kind, is reported at its kind", () => {
    const dir = scratchDir("ibu-files");
    writeFileSync(join(dir, "a.yaml"), BASE.replace("kind: Fleet\n", ""));
    writeFileSync(join(dir, "b.yaml"), BASE.replace("kind: Fleet", "kind: Fleets"));
    writeFileSync(join(dir, "c.yaml"), BASE.replace("kind: Fleet", "kind: ConfigMap"));
    const found = fleetFiles([dir]);
    expect(found.map(f => f.slice(dir.length + 1))).toEqual(["a.yaml", "b.yaml", "c.yaml"]);
    const shown = found.flatMap(f => problems(readFileSync(f, "utf8"), f)).map(formatProblem);
    expect(shown).toEqual([
      `${found[0]}:1:1: kind: is required (the fleet file's kind: Fleet)`,
      `${found[1]}:2:1: kind: must be Fleet, not "Fleets"; did you mean Fleet?`,
      `${found[2]}:2:1: kind: must be Fleet, not "ConfigMap"`,
    ]);
  });

  it("a JSON fleet file is read as a fleet", () => {
    const dir = scratchDir("ibu-files");
    writeFileSync(join(dir, "fleet.json"), JSON.stringify(parse(BASE), null, 2));
    expect(fleetFiles([dir]).map(f => loadFleet(f).metadata.name)).toEqual(["lab"]);
  });
});

describe("encodings", () => {
  const write = (bytes: Buffer): string => {
    const file = join(scratchDir("ibu-enc"), "fleet.yaml");
    writeFileSync(file, bytes);
    return file;
  };
  const loadProblems = (file: string): string[] => {
    try {
      loadFleet(file);
    } catch (err) {
      if (err instanceof FleetError) return err.problems.map(formatProblem);
      throw err;
    }
    throw new Error("expected the fleet to be rejected");
  };

  it("a byte that is not UTF-8 is refused at its line and column, not turned into U+FFFD", () => {
    const text = BASE.replace("name: lab", "name: lab\n  annotations: {note: caf\u00e9 \ufffd x}");
    const [head, tail] = text.split("\u00e9") as [string, string];
    // A genuine U+FFFD (valid UTF-8) before the bad byte is not the problem.
    const file = write(
      Buffer.concat([
        Buffer.from(head.replace("caf", "\ufffd caf")),
        Buffer.from([0xe9]),
        Buffer.from(tail),
      ]),
    );
    expect(loadProblems(file)).toEqual([
      `${file}:5:28: (document): byte 0xE9 is not UTF-8 (Latin-1 or another encoding?); save the file as UTF-8`,
    ]);
  });

  it("a UTF-16 file is named as such", () => {
    for (const bom of [
      [0xff, 0xfe],
      [0xfe, 0xff],
    ]) {
      const utf16 = Buffer.from(BASE, "utf16le");
      const file = write(
        Buffer.concat([Buffer.from(bom), bom[0] === 0xff ? utf16 : utf16.swap16()]),
      );
      const order = bom[0] === 0xff ? "little-endian" : "big-endian";
      expect(loadProblems(file)).toEqual([
        `${file}: the file is UTF-16 ${order} (its byte order mark) and must be UTF-8; save it as UTF-8`,
      ]);
    }
  });

  it("a UTF-16 file without a byte order mark is named as such, its byte order guessed", () => {
    for (const order of ["little-endian", "big-endian"]) {
      const utf16 = Buffer.from(BASE, "utf16le");
      const file = write(order === "little-endian" ? utf16 : utf16.swap16());
      expect(loadProblems(file)).toEqual([
        `${file}: the file is UTF-16 ${order} (guessed from its NUL bytes) and must be UTF-8; save it as UTF-8`,
      ]);
    }
  });

  it("a UTF-16 fleet file in a folder given to -f is loaded and refused for its encoding", () => {
    const dir = scratchDir("ibu-enc");
    writeFileSync(join(dir, "fleet.yaml"), Buffer.from(BASE, "utf16le").swap16());
    writeFileSync(join(dir, "cm.yaml"), Buffer.from("kind: ConfigMap\n", "utf16le"));
    const files = fleetFiles([dir]);
    expect(files.map(f => f.slice(dir.length + 1))).toEqual(["fleet.yaml"]);
    expect(loadProblems(files[0] ?? "")).toEqual([
      `${files[0]}: the file is UTF-16 big-endian (guessed from its NUL bytes) and must be UTF-8; save it as UTF-8`,
    ]);
  });

  it("a UTF-8 byte order mark is accepted", () => {
    const file = write(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(BASE)]));
    expect(loadFleet(file).metadata.name).toBe("lab");
  });
});

describe("documents", () => {
  it("several YAML documents in one file are one located problem with their count", () => {
    const p = problems(`${BASE}---\nkind: Other\n---\nkind: Third\n`);
    expect(p.map(formatProblem)).toEqual([
      "fleet.yaml:13:1: (document): a fleet file holds one document; found 3",
    ]);
  });
});

describe("image references", () => {
  const seed = (image: string): string =>
    BASE.replace("image: registry.example.com/seed:4.18.1", `image: ${JSON.stringify(image)}`);

  it("are checked with the container tooling's grammar", () => {
    for (const [image, why] of [
      ["@", /the digest after @ must be sha256/],
      ["UPPER/../::", /the tag after :/],
      ["UPPER/..", /the path component "\.\." is not/],
      ["quay.io/Org/seed:1", /the repository path must be lower case/],
      ["docker://quay.io/x:1", /a transport prefix/],
      ["quay.io/x@sha256:abc", /the digest after @ must be sha256: and 64/],
      ["bad_host:5000/x/y", /the registry "bad_host:5000" is not a host name/],
    ] as const) {
      expect(messages(problems(seed(image))), image).toEqual([
        expect.stringMatching(
          new RegExp(`^7: spec.seedImage.image: .* is not an image reference: ${why.source}`),
        ),
      ]);
    }
    const addon = BASE.replace("spec:\n", 'spec:\n  addon: {image: "UPPER/../::"}\n');
    expect(messages(problems(addon))).toEqual([
      expect.stringMatching(/^6: spec.addon.image: "UPPER\/..\/::" is not an image reference/),
    ]);
  });

  it("accept what registries serve: host:port, IPv6, nested paths, tags and digests", () => {
    for (const image of [
      "busybox",
      "library/busybox:1.36",
      "localhost:5000/a/b",
      "[::1]:5000/seed:4.18.1",
      "Registry.Example.com/ns/seed_x--y.z:v4.18.1-rc.1",
      `quay.io/x/y:1@sha256:${"a".repeat(64)}`,
    ])
      expect(parseFleet(seed(image), "fleet.yaml").spec.seedImage.image).toBe(image);
  });

  it("a long adversarial name is refused at once (no backtracking blow-up)", () => {
    // Each case would take minutes with a nested-quantifier pattern such as [a-z0-9]+(-*[a-z0-9]+)*.
    for (const image of [`${"a-".repeat(120)}!`, `quay.io/${"a_".repeat(120)}__!`])
      expect(messages(problems(seed(image)))).toHaveLength(1);
  });
});

describe("output folders", () => {
  it("a folder that cannot be created fails at once with one line naming it", async () => {
    const err: string[] = [];
    const code = await main(
      ["synth", "-f", join(import.meta.dirname, "../../../examples"), "--output-dir", "/proc/x/y"],
      s => void err.push(s),
    );
    expect(code).toBe(1);
    expect(err.join("")).toMatch(
      /^ibu-gitops synth: cannot write the output folder \/proc\/x\/y\/du-sno[-a-z]*: \/proc\/x: cannot be created there \(ENOENT\)\n$/,
    );
  });

  it("a previous output synth cannot read is reported at its place, and nothing is written", () => {
    const dir = scratchDir("ibu-out");
    const fleet = join(dir, "fleet.yaml");
    const out = join(dir, "out");
    writeFileSync(fleet, BASE);
    runSynth({ files: [fleet], out, check: false }, () => undefined);
    const cgu = join(out, "lab", "upgrades", "canary.yaml");
    const damaged = "# half-merged\nkind: ClusterGroupUpgrade\nmetadata: [x\nspec: {}\n";
    writeFileSync(cgu, damaged);
    const unlabelled = join(out, "lab", "upgrades", "other.yaml");
    writeFileSync(
      unlabelled,
      "apiVersion: x/v1\nkind: ClusterGroupUpgrade\nmetadata:\n  labels: {a: b}\n",
    );
    writeFileSync(fleet, BASE.replace("stage: Prep", "stage: Upgrade"));
    let thrown: unknown;
    try {
      runSynth({ files: [fleet], out, check: false }, () => undefined);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(FleetError);
    const shown = (thrown as FleetError).problems.map(formatProblem);
    expect(shown).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${cgu}:4:1: \\(document\\): YAML: Flow sequence .*; synth reads the previous output`,
        ),
      ),
      expect.stringMatching(
        new RegExp(`^${unlabelled}:4:11: metadata.labels: ClusterGroupUpgrade without the labels`),
      ),
    ]);
    expect(readFileSync(cgu, "utf8")).toBe(damaged);
  });

  it("a file where a folder should be is named", () => {
    const dir = scratchDir("ibu-out");
    writeFileSync(join(dir, "file"), "x");
    expect(() => writeTree(join(dir, "file", "fleet"), new Map([["a.yaml", "a: 1\n"]]))).toThrow(
      `cannot write the output folder ${dir}/file/fleet: ${dir}/file: a file stands where a folder should be (ENOTDIR)`,
    );
  });
});

describe("ibu-gitops validate on a folder", () => {
  it("reports a near-miss kind beside the other fleets' problems, and exits 1", () => {
    const dir = scratchDir("ibu-validate");
    writeFileSync(
      join(dir, "a.yaml"),
      BASE.replace("kind: Fleet", "kind: Flet").replace("ibu-gitops.dev/v1alpha1", "x/v1"),
    );
    writeFileSync(join(dir, "b.yaml"), BASE.replace("stage: Prep", "stage: Nope"));
    const log: string[] = [];
    expect(runValidate({ files: [dir], out: join(dir, "out") }, s => void log.push(s))).toBe(1);
    const text = log.join("\n");
    expect(text).toMatch(
      /a\.yaml:2:1: kind: "Flet" is not a kind this tool reads; did you mean Fleet\?/,
    );
    expect(text).toMatch(/b\.yaml:12:7: spec\.groups\[0\]\.stage: must be one of/);
  });
});

/** 1-based line and column where `needle` (its first occurrence) starts in `text`. */
function at(text: string, needle: string): string {
  const before = text.slice(0, text.indexOf(needle)).split("\n");
  return `${before.length}:${(before.at(-1) ?? "").length + 1}`;
}

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

  it("point at the start of the offending entry (its key, or the list item), whatever found it", () => {
    const cases: Array<[string, string, string]> = [
      ["schema: a wrong value", BASE.replace("stage: Prep", "stage:    Nope"), "stage:"],
      ["schema: an unknown field", BASE.replace("stage: Prep", "stgae: Prep"), "stgae"],
      [
        "cross-field: a cluster listed twice",
        BASE.replace("[sno-1]", "[sno-1, sno-2,   sno-2]"),
        "sno-2]",
      ],
      [
        "cross-field: a selector requirement without values",
        BASE.replace(
          "[sno-1]",
          "[sno-1]\n      selector: {matchExpressions: [  {key: a, operator: In}]}",
        ),
        "{key: a",
      ],
      [
        "generator rule: an annotation LCA does not read",
        BASE.replace("spec:\n", "spec:\n  ibuAnnotations: {  foo:   bar}\n"),
        "foo:",
      ],
      [
        "YAML: a number too large",
        BASE.replace("spec:\n", "spec:\n  rollout: {prep: {timeout:   99999999999999999999}}\n"),
        "timeout:",
      ],
      [
        "YAML: an alias to no anchor",
        BASE.replace("version: 4.18.1", "version:    *v"),
        "version:",
      ],
    ];
    for (const [what, text, needle] of cases) {
      const p = problems(text);
      expect(
        p.map(x => `${x.line}:${x.column}`),
        what,
      ).toEqual([at(text, needle)]);
    }
  });

  it("in an OADP file and a folder's near-miss kind, point at the entry's start too", () => {
    const dir = scratchDir("ibu-cols");
    const oadp =
      "apiVersion: velero.io/v1\nkind: Backup\nmetadata:\n  name: a\n  annotations:\n    lca.openshift.io/apply-wave:   x\n---\n" +
      "apiVersion: velero.io/v1\nkind: Restore\nmetadata: {name: a}\nspec: {backupName: a}\n";
    writeFileSync(join(dir, "w.yaml"), oadp);
    const text = BASE.replace("spec:\n", "spec:\n  oadp: {content: [{  file: w.yaml}]}\n");
    const p = problems(text, join(dir, "fleet.yaml"));
    expect(p.map(x => `${x.line}:${x.column}`)).toEqual([at(text, "file:")]);
    expect(p[0]?.message).toMatch(
      new RegExp(`^w\\.yaml:${at(oadp, "lca.openshift.io/")}: Backup a`),
    );
    writeFileSync(join(dir, "a.yaml"), "apiVersion: x/v1\nkind:   Flet\n");
    expect(() => fleetFiles([dir])).toThrow(
      `a.yaml:${at("apiVersion: x/v1\nkind:", "kind")}: kind:`,
    );
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
