// A rollout is a series of commits, and several fleets share one hub: each commit's fleet file
// is synthesized against the output the previous commit left, and against the other fleets'
// output folders, the way a user's repository holds them (issue 13).
/* eslint-disable @typescript-eslint/no-unsafe-return */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { scratchDir } from "../support/scratch.js";
import { runPlan } from "../../src/cli/plan.js";
import { runSynth, runValidate } from "../../src/cli/synth.js";
import { FleetError } from "../../src/fleet/errors.js";
import { loadFleet } from "../../src/fleet/load.js";
import { readTree, synthFleet } from "../../src/synth.js";

const exec = promisify(execFile);
type Json = Record<string, any>;

/** A repository: fleet files under fleets/, output under policies/. */
function repo(): { root: string; out: string; write: (name: string, fleet: Json) => string } {
  const root = scratchDir("ibu-commits");
  mkdirSync(join(root, "fleets"));
  cpSync("examples/oadp", join(root, "fleets", "oadp"), { recursive: true });
  return {
    root,
    out: join(root, "policies"),
    write: (name, fleet) => {
      const file = join(root, "fleets", name);
      writeFileSync(file, stringify(fleet));
      return file;
    },
  };
}

const example = (file: string): Json => parse(readFileSync(file, "utf8")) as Json;

/** synth, as a commit's CI would run it: the problems' text, or "" when it wrote the output. */
function synth(files: string[], out: string): string {
  try {
    runSynth({ files, out, check: false }, () => undefined);
    return "";
  } catch (err) {
    if (err instanceof FleetError) return err.message;
    throw err;
  }
}

function validate(files: string[], out: string): { code: number; text: string } {
  const lines: string[] = [];
  const code = runValidate({ files, out }, s => void lines.push(s));
  return { code, text: lines.join("\n") };
}

function ibgus(out: string, fleet: string): Json[] {
  return [...readTree(join(out, fleet)).entries()]
    .filter(([f]) => f.startsWith("upgrades/"))
    .flatMap(([, t]) => parseAllDocuments(t).map(d => d.toJS() as Json))
    .filter(o => o.kind === "ImageBasedGroupUpgrade");
}

/** The ibgu example with one group `main` at `stage`. */
function ibguFleet(stage: string, edit: (spec: Json) => void = () => undefined): Json {
  const f = example("examples/fleet-ibgu.yaml");
  f.spec.groups = [{ name: "main", selector: { matchLabels: { "ibu-group": "main" } }, stage }];
  edit(f.spec);
  return f;
}

describe("IBGU changes across commits", () => {
  it("lets a plan grow by appending: Prep, then Upgrade, then Finalize", () => {
    const r = repo();
    for (const stage of ["Prep", "Upgrade", "Finalize"]) {
      expect(synth([r.write("f.yaml", ibguFleet(stage))], r.out)).toBe("");
    }
    const [ibgu] = ibgus(r.out, "du-sno-ibgu");
    expect(ibgu!.spec.plan.map((i: Json) => i.actions)).toEqual([
      ["Prep"],
      ["Upgrade"],
      ["FinalizeUpgrade"],
    ]);
  });

  it("lets abortOnFailure be turned on while it only appends (Prep → Upgrade)", () => {
    const r = repo();
    expect(synth([r.write("f.yaml", ibguFleet("Prep"))], r.out)).toBe("");
    const on = ibguFleet("Upgrade", s => (s.groups[0].abortOnFailure = true));
    expect(synth([r.write("f.yaml", on)], r.out)).toBe("");
  });

  it.each([
    [
      "a new maxConcurrency for Prep",
      (s: Json) => (s.rollout.prep.maxConcurrency = 7),
      /spec\.groups\[0\]: group main: a plan may only grow by appending, and plan item 0 \(Prep\) changed its rolloutStrategy \(spec\.rollout\)/,
    ],
    [
      "a new init-monitor timeout",
      (s: Json) => (s.autoRollback.initMonitorTimeoutSeconds = 600),
      /spec: group main: ibuSpec is immutable, and spec\.autoRollback\.initMonitorTimeoutSeconds changed/,
    ],
    [
      "a new selector",
      (s: Json) => (s.groups[0].selector = { matchLabels: { "ibu-group": "other" } }),
      /spec\.groups\[0\]\.selector: group main: clusterLabelSelectors is immutable/,
    ],
    [
      "abortOnFailure turned off after Prep with it",
      (s: Json) => (s.groups[0].abortOnFailure = false),
      /plan item 1 changed from AbortOnFailure to Upgrade \(abortOnFailure or plan\)/,
    ],
  ])("refuses %s with the next stage, naming the field and the way on", (_, edit, message) => {
    const r = repo();
    const first = ibguFleet("Prep", s => (s.groups[0].abortOnFailure = true));
    expect(synth([r.write("f.yaml", first)], r.out)).toBe("");
    const before = readTree(join(r.out, "du-sno-ibgu"));
    const next = ibguFleet("Upgrade", s => {
      s.groups[0].abortOnFailure = true;
      edit(s);
    });
    const text = synth([r.write("f.yaml", next)], r.out);
    expect(text).toMatch(message);
    expect(text).toMatch(/revert the change, or let the group finish and return to Idle first/);
    // Nothing was written: the previous commit's output stays.
    expect(readTree(join(r.out, "du-sno-ibgu"))).toEqual(before);
  });

  it("refuses abortOnFailure turned on once Upgrade is in the plan (it would insert a step)", () => {
    const r = repo();
    expect(synth([r.write("f.yaml", ibguFleet("Upgrade"))], r.out)).toBe("");
    const on = ibguFleet("Finalize", s => (s.groups[0].abortOnFailure = true));
    expect(synth([r.write("f.yaml", on)], r.out)).toMatch(
      /plan item 1 changed from Upgrade to AbortOnFailure/,
    );
  });

  it("takes the new values once the group went back to Idle (the IBGU was removed)", () => {
    const r = repo();
    const file = r.write("f.yaml", ibguFleet("Prep"));
    expect(synth([file], r.out)).toBe("");
    expect(synth([r.write("f.yaml", ibguFleet("Abort"))], r.out)).toBe("");
    expect(synth([r.write("f.yaml", ibguFleet("Idle"))], r.out)).toBe("");
    const changed = ibguFleet("Prep", s => (s.autoRollback.initMonitorTimeoutSeconds = 600));
    expect(synth([r.write("f.yaml", changed)], r.out)).toBe("");
  });

  it("is found by validate too, without writing", () => {
    const r = repo();
    expect(synth([r.write("f.yaml", ibguFleet("Prep"))], r.out)).toBe("");
    const next = ibguFleet("Upgrade", s => (s.rollout.prep.maxConcurrency = 7));
    const v = validate([r.write("f.yaml", next)], r.out);
    expect(v.code).toBe(1);
    expect(v.text).toMatch(/plan item 0 \(Prep\) changed its rolloutStrategy/);
  });
});

describe("validate finds what synth refuses", () => {
  it("a stage move LCA rejects, against the existing output", () => {
    const r = repo();
    const fleet = example("examples/fleet.yaml");
    fleet.spec.groups[2].stage = "Idle";
    expect(synth([r.write("fleet.yaml", fleet)], r.out)).toBe("");
    fleet.spec.groups[2].stage = "Upgrade"; // wave-2: Idle → Upgrade skips Prep
    const v = validate([r.write("fleet.yaml", fleet)], r.out);
    expect(v.code).toBe(1);
    expect(v.text).toMatch(/spec\.groups\[2\]\.stage: group wave-2 moves from Idle to Upgrade/);
  });

  it("and plan refuses the same stage move instead of showing it as a plan", async () => {
    const r = repo();
    const fleet = example("examples/fleet.yaml");
    fleet.spec.groups[2].stage = "Idle";
    expect(synth([r.write("fleet.yaml", fleet)], r.out)).toBe("");
    fleet.spec.groups[2].stage = "Upgrade";
    const file = r.write("fleet.yaml", fleet);
    await expect(
      runPlan({ files: [file], output: "json", out: r.out }, () => undefined),
    ).rejects.toThrow(/group wave-2 moves from Idle to Upgrade/);
  });

  it("OADP file contents LCA would reject", () => {
    const r = repo();
    writeFileSync(
      join(r.root, "fleets", "oadp", "app-backup-restore.yaml"),
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    );
    const v = validate([r.write("fleet.yaml", example("examples/fleet.yaml"))], r.out);
    expect(v.code).toBe(1);
    // Located in the OADP file too (docs/fleet-problems.md): where the fleet names it, then where
    // in that file the object starts.
    expect(v.text).toMatch(
      /spec\.oadp\.content\[2\]\.file: oadp\/app-backup-restore\.yaml:1:1: ConfigMap x: only velero\.io\/v1 Backup and Restore/,
    );
  });

  it("passes the two example fleets together", () => {
    const v = validate(["examples"], "policies");
    expect(v.text).toMatch(/fleet du-sno is valid/);
    expect(v.text).toMatch(/fleet du-sno-ibgu is valid/);
    expect(v.code).toBe(0);
  });
});

describe("several fleets on one hub", () => {
  it("refuses two fleets with the same group names in the same upgrade namespace", () => {
    const r = repo();
    const a = example("examples/fleet.yaml");
    const b = example("examples/fleet.yaml");
    b.metadata.name = "du-sno-b";
    b.spec.hub.ownedNamespaces = [];
    b.spec.hub.policyNamespace = "ztp-group-b"; // its policies and ConfigMaps apart
    delete b.spec.addon;
    const files = [r.write("a.yaml", a), r.write("b.yaml", b)];
    const v = validate(files, r.out);
    expect(v.code).toBe(1);
    expect(v.text).toMatch(
      /ClusterGroupUpgrade\.ran\.openshift\.io ztp-upgrades\/canary-prep-4-18-1 is also generated for fleet du-sno/,
    );
    // synth refuses the same set, whether given together or one commit after the other.
    expect(synth(files, r.out)).toMatch(/is also generated for fleet/);
    expect(synth([files[0]!], r.out)).toBe("");
    expect(synth([files[1]!], r.out)).toMatch(/is also generated for fleet du-sno;/);
  });

  it("refuses a namespace owned by two fleets, and the same fleet name twice", () => {
    const r = repo();
    const a = example("examples/fleet.yaml");
    const b = example("examples/fleet-ibgu.yaml");
    b.spec.hub.ownedNamespaces = ["ztp-upgrades"];
    const v = validate([r.write("a.yaml", a), r.write("b.yaml", b)], r.out);
    expect(v.text).toMatch(/Namespace ztp-upgrades is also generated for fleet/);
    const c = example("examples/fleet.yaml");
    const w = validate([r.write("a.yaml", a), r.write("c.yaml", c)], r.out);
    expect(w.text).toMatch(/fleet du-sno is also defined in .*a\.yaml/);
  });

  it("gives each fleet its own Application and AppProject, and the Application a destination its project admits", () => {
    const apps = ["examples/fleet.yaml", "examples/fleet-ibgu.yaml"].map(f => {
      const docs = parseAllDocuments(synthFleet(loadFleet(f)).get("argocd/argocd.yaml")!).map(
        d => d.toJS() as Json,
      );
      return {
        project: docs.find(d => d.kind === "AppProject")!,
        app: docs.find(d => d.kind === "Application")!,
      };
    });
    for (const { project, app } of apps) {
      expect(app.spec.project).toBe(project.metadata.name);
      // Argo CD matches the Application's own destination against the project's.
      expect(project.spec.destinations).toContainEqual(app.spec.destination);
      expect(app.spec.destination.namespace).toBeTruthy();
    }
    expect(new Set(apps.map(a => a.project.metadata.name)).size).toBe(2);
    expect(new Set(apps.map(a => a.app.metadata.name)).size).toBe(2);
  });

  it("emits Namespaces and the global ManagedClusterSetBinding only where a fleet owns them, never pruned", () => {
    const files = synthFleet(loadFleet("examples/fleet.yaml"));
    const objs = [...files.values()].flatMap(t =>
      parseAllDocuments(t).map(d => d.toJS() as Json | null),
    );
    const namespaces = objs.filter(o => o?.kind === "Namespace");
    expect(namespaces.map(n => n!.metadata.name).sort()).toEqual([
      "ibu-gitops",
      "open-cluster-management-observability",
      "ztp-upgrades",
    ]);
    // ztp-group is ZTP's: its binding too (the addon binds its own namespace).
    const bindings = objs.filter(o => o?.kind === "ManagedClusterSetBinding");
    expect(bindings.map(b => b!.metadata.namespace)).toEqual(["ibu-gitops"]);
    const owned = namespaces.find(n => n!.metadata.name === "ztp-upgrades")!;
    expect(owned.metadata.annotations["argocd.argoproj.io/sync-options"]).toBe(
      "Prune=false,Delete=false",
    );
    const f = example("examples/fleet.yaml");
    f.spec.hub.ownedNamespaces = ["ztp-group", "ztp-upgrades"];
    const r = repo();
    const own = synthFleet(loadFleet(r.write("fleet.yaml", f)));
    expect(own.get("placement.yaml")).toMatch(/kind: ManagedClusterSetBinding\n/);
  });
});

describe("the drift gate", () => {
  it("does not depend on the folder synth runs from", async () => {
    const main = resolve("src/cli/main.ts");
    const tsx = resolve("node_modules/.bin/tsx");
    const r = repo();
    const file = r.write("fleet.yaml", example("examples/fleet.yaml"));
    expect(synth([file], r.out)).toBe("");
    // --check from the fleet's own folder, with other relative paths than the synth used.
    const { stderr } = await exec(
      tsx,
      [main, "synth", "--check", "-f", "fleet.yaml", "--output-dir", "../policies"],
      {
        cwd: join(r.root, "fleets"),
      },
    );
    expect(stderr).toMatch(/is up to date with fleet\.yaml/);
    expect(readFileSync(join(r.out, "du-sno", "policies.yaml"), "utf8")).toMatch(
      /^# Generated by ibu-gitops from fleet\.yaml\./,
    );
  }, 60_000);
});
