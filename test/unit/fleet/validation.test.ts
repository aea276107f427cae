// Every kind of bad fleet file gets a problem naming the file, YAML path and line, and all
// problems of a file are reported at once.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scratchDir } from "../../support/scratch.js";
import { FleetError } from "../../../src/fleet/errors.js";
import { parseFleet } from "../../../src/fleet/load.js";
import { BASE, problems } from "./fleet-text.js";

describe("a valid fleet", () => {
  it("loads with ZTP's defaults filled in", () => {
    const fleet = parseFleet(BASE, "fleet.yaml");
    expect(fleet.spec.hub).toEqual({
      policyNamespace: "ztp-group",
      upgradeNamespace: "default",
      ownedNamespaces: [],
    });
    expect(fleet.spec.flavour).toBe("cgu");
    expect(fleet.spec.policyName).toBe("group-ibu");
    expect(fleet.spec.oadp).toEqual({
      configMap: { name: "oadp-cm", namespace: "openshift-adp" },
      content: [{ template: "platform" }],
    });
    expect(fleet.spec.autoRollback.initMonitorTimeoutSeconds).toBe(1800);
    expect(fleet.spec.imageCleanup).toEqual({ onPrep: true, diskUsageThresholdPercent: 50 });
    expect(fleet.spec.rollout.prep).toEqual({ maxConcurrency: 50, timeout: 240 });
    expect(fleet.spec.rollout.batchTimeoutAction).toBe("Continue");
  });
});

describe("validation", () => {
  it("names an unknown field with its path and line, and suggests the right spelling", () => {
    const p = problems(BASE.replace("  seedImage:", "  seedimage: {}\n  seedImage:"));
    expect(p).toContainEqual(
      expect.objectContaining({
        path: "spec.seedimage",
        line: 6,
        message: "unknown field; did you mean seedImage?",
      }),
    );
  });

  it("rejects names that are not RFC 1123", () => {
    const p = problems(BASE.replace("name: canary", "name: Canary_1"));
    expect(p).toEqual([
      expect.objectContaining({
        path: "spec.groups[0].name",
        line: 10,
        message: expect.stringMatching(/"Canary_1" is not a valid RFC 1123 label/),
      }),
    ]);
  });

  it("rejects a seed version that is not semver", () => {
    const p = problems(BASE.replace("version: 4.18.1", 'version: "4.18"'));
    expect(p).toEqual([
      expect.objectContaining({
        path: "spec.seedImage.version",
        line: 8,
        message: expect.stringMatching(/"4.18" is not a semantic version/),
      }),
    ]);
  });

  it("rejects a policy whose namespace and name exceed ACM's 62 characters", () => {
    const text = BASE.replace(
      "spec:\n",
      "spec:\n  policyName: a-very-long-policy-prefix-for-a-fleet\n  hub:\n    policyNamespace: ztp-group-production\n",
    );
    const p = problems(text);
    expect(p).toEqual([
      expect.objectContaining({
        path: "spec.policyName",
        line: 6,
        message: expect.stringMatching(
          /ztp-group-production\/a-very-long-policy-prefix-for-a-fleet-oadp-cm-policy is 72 characters of namespace \+ name; ACM allows at most 62/,
        ),
      }),
    ]);
  });

  it("rejects an IBGU plan TALM does not allow, naming the first bad prefix", () => {
    const text = BASE.replace("spec:\n", "spec:\n  flavour: ibgu\n").replace(
      "      clusters: [sno-1]\n      stage: Prep\n",
      "      selector: {matchLabels: {g: canary}}\n      plan: [[Prep], [Rollback]]\n",
    );
    const p = problems(text);
    expect(p).toEqual([
      expect.objectContaining({
        path: "spec.groups[0].plan",
        line: 13,
        message: "plan [Prep],[Rollback] is not among TALM's allowed sequences",
      }),
    ]);
  });

  it("rejects a stage move LCA would reject, given the stage in the existing output", () => {
    const p = problems(BASE.replace("stage: Prep", "stage: Rollback"), {
      previousStages: new Map([["canary", "Prep"]]),
    });
    expect(p).toEqual([
      expect.objectContaining({
        path: "spec.groups[0].stage",
        line: 12,
        message: expect.stringMatching(
          /moves from Prep to Rollback, which LCA would reject; from Prep a group may go to Upgrade or Abort/,
        ),
      }),
    ]);
    expect(() =>
      parseFleet(BASE.replace("stage: Prep", "stage: Upgrade"), "f", {
        previousStages: new Map([["canary", "Prep"]]),
      }),
    ).not.toThrow();
  });

  it("rejects a cluster in two groups", () => {
    const text = BASE + "    - name: wave-1\n      clusters: [sno-2, sno-1]\n";
    expect(problems(text)).toEqual([
      expect.objectContaining({
        path: "spec.groups[1].clusters[1]",
        line: 14,
        message: "cluster sno-1 is already in group canary",
      }),
    ]);
  });

  it("rejects an OADP file that does not exist", () => {
    const text = BASE.replace(
      "spec:\n",
      "spec:\n  oadp:\n    content:\n      - file: missing/backup.yaml\n",
    );
    expect(problems(text)).toEqual([
      expect.objectContaining({
        path: "spec.oadp.content[0].file",
        line: 8,
        message: expect.stringMatching(/^file missing\/backup.yaml does not exist/),
      }),
    ]);
  });

  it("reports every problem of a file at once", () => {
    const text = BASE.replace("version: 4.18.1", "version: latest")
      .replace("name: canary", "name: CANARY")
      .replace("kind: Fleet", "kind: Fleets");
    const p = problems(text);
    expect(p.map(x => x.path).sort()).toEqual([
      "kind",
      "spec.groups[0].name",
      "spec.seedImage.version",
    ]);
    expect(new FleetError(p).message).toMatch(
      /^3 problems in fleet file:\n {2}fleet.yaml:2:1: kind: must be Fleet/,
    );
  });

  it("reports YAML syntax errors with their line", () => {
    const p = problems("apiVersion: ibu-gitops.dev/v1alpha1\nkind: Fleet\nspec: [\n");
    expect(p[0]).toEqual(
      expect.objectContaining({
        line: expect.any(Number),
        message: expect.stringMatching(/^YAML: /),
      }),
    );
  });

  it("rejects a group with neither clusters nor selector, and wrong value types", () => {
    const text = BASE.replace("      clusters: [sno-1]\n", "").replace(
      "stage: Prep",
      "stage: Prepare",
    );
    const p = problems(
      text.replace("  groups:", "  rollout:\n    prep: {maxConcurrency: '5'}\n  groups:"),
    );
    expect(p.map(x => `${x.path}: ${x.message}`).sort()).toEqual([
      'spec.groups[0].stage: must be one of Idle, Prep, Upgrade, Finalize, Rollback, FinalizeRollback, Abort, not "Prepare"',
      "spec.groups[0]: needs clusters, a selector, or both",
      'spec.rollout.prep.maxConcurrency: must be a whole number, not "5" (unquote it)',
    ]);
  });

  it("checks a user's OADP file the way LCA does: Backups paired with Restores", () => {
    const dir = scratchDir("ibu-fleet");
    writeFileSync(
      join(dir, "bad.yaml"),
      "apiVersion: velero.io/v1\nkind: Backup\nmetadata: {name: a, namespace: openshift-adp}\n",
    );
    const text = BASE.replace("spec:\n", "spec:\n  oadp:\n    content:\n      - file: bad.yaml\n");
    expect(problems(text, {}, join(dir, "fleet.yaml"))).toEqual([
      expect.objectContaining({
        path: "spec.oadp.content[0].file",
        line: 8,
        message:
          "bad.yaml: has 1 Backups and 0 Restores; LCA wants each Backup paired with one Restore",
      }),
    ]);
  });
});
