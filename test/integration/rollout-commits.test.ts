// A rollout as a series of commits, checked by the real apiserver with the upstream CRDs and
// their CEL rules: two fleets (cgu and ibgu) synthesized into one repository, each commit's
// output applied to one hub as Argo CD applies it (create or update, prune what is gone), so
// TALM's immutability and append-only rules judge updates of existing objects, not only creates.
/* eslint-disable @typescript-eslint/no-unsafe-return */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { scratchDir } from "../support/scratch.js";
import { httpRequest, statusMessage, type KubeObject } from "../support/cluster.js";
import { sharedCluster, uniqueName } from "../support/shared.js";
import { runSynth } from "../../src/cli/synth.js";
import { FleetError } from "../../src/fleet/errors.js";
import { loadFleet } from "../../src/fleet/load.js";
import { readTree, synthFleet, type OutputFiles } from "../../src/synth.js";

const hub = sharedCluster("hub");
type Json = Record<string, any>;

const key = (o: KubeObject): string =>
  `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;

function objectsOf(files: OutputFiles): KubeObject[] {
  const wave = (o: KubeObject): number =>
    Number(
      (o.metadata?.annotations as Record<string, string> | undefined)?.[
        "argocd.argoproj.io/sync-wave"
      ] ?? 0,
    );
  return [...files.entries()]
    .filter(([f]) => !f.endsWith("kustomization.yaml"))
    .flatMap(([, t]) => parseAllDocuments(t).map(d => d.toJS() as KubeObject | null))
    .filter((o): o is KubeObject => !!o)
    .sort((a, b) => wave(a) - wave(b));
}

async function path(o: KubeObject): Promise<string> {
  const { plural, namespaced } = await hub.resourceFor(o.apiVersion, o.kind);
  const base = o.apiVersion.includes("/") ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  const ns = namespaced ? `/namespaces/${o.metadata?.namespace ?? "default"}` : "";
  return `${base}${ns}/${plural}/${o.metadata?.name}`;
}

/** Server-side apply: creates the object or updates it, so CEL transition rules run. */
async function apply(o: KubeObject): Promise<{ status: number; message: string }> {
  const res = await httpRequest(
    hub.kubeConfig(),
    hub.info.url,
    "PATCH",
    `${await path(o)}?fieldManager=argocd-controller&force=true&fieldValidation=Strict`,
    o,
    "application/apply-patch+yaml",
  );
  return { status: res.status, message: statusMessage(res) };
}

/** Applies a commit's output, prunes what the previous commit had and this one has not. */
async function sync(objects: KubeObject[], before: Map<string, KubeObject>): Promise<string[]> {
  const failures: string[] = [];
  for (const o of objects) {
    const r = await apply(o);
    if (r.status !== 200 && r.status !== 201) failures.push(`${key(o)}: ${r.message}`);
  }
  const now = new Set(objects.map(key));
  for (const [k, o] of before) {
    if (now.has(k)) continue;
    const res = await hub.request("DELETE", await path(o));
    if (res.status !== 200 && res.status !== 202)
      failures.push(`prune ${k}: ${statusMessage(res)}`);
  }
  return failures;
}

describe("two fleets, commit by commit, on one hub", () => {
  it("applies every commit's output as an update of the last, and the CRDs refuse what synth refuses", async () => {
    const root = scratchDir("ibu-commits-hub");
    mkdirSync(join(root, "fleets", "oadp"), { recursive: true });
    writeFileSync(
      join(root, "fleets", "oadp", "app-backup-restore.yaml"),
      readFileSync("examples/oadp/app-backup-restore.yaml"),
    );
    const out = join(root, "policies");
    // Namespaces of this run only: the shared hub serves other tests at the same time.
    const policyNs = uniqueName("pol");
    const upgradeNs = uniqueName("upg");
    const oadpNs = uniqueName("adp");
    const argoNs = uniqueName("argo");
    for (const name of [argoNs]) {
      const res = await hub.request("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name },
      });
      expect([201, 409], statusMessage(res)).toContain(res.status);
    }
    const cgu = parse(readFileSync("examples/fleet.yaml", "utf8")) as Json;
    delete cgu.spec.addon; // hub-wide; test/integration/addon.test.ts covers it
    cgu.spec.hub = { policyNamespace: policyNs, upgradeNamespace: upgradeNs };
    cgu.spec.hub.ownedNamespaces = [policyNs, upgradeNs];
    cgu.spec.argocd = { ...cgu.spec.argocd, namespace: argoNs };
    const ibgu = parse(readFileSync("examples/fleet-ibgu.yaml", "utf8")) as Json;
    ibgu.spec.hub = { policyNamespace: policyNs, upgradeNamespace: upgradeNs };
    ibgu.spec.hub.ownedNamespaces = [oadpNs];
    ibgu.spec.oadp.configMap = { name: "oadp-cm", namespace: oadpNs };
    ibgu.spec.argocd = { namespace: argoNs };

    const stages = (f: Json, s: Record<string, string>): void => {
      for (const g of f.spec.groups as Json[]) g.stage = s[g.name] ?? "Idle";
    };
    const commits: Array<[Record<string, string>, Record<string, string>]> = [
      [{ canary: "Prep" }, { canary: "Prep", main: "Prep" }],
      [
        { canary: "Upgrade", "wave-1": "Prep" },
        { canary: "Upgrade", main: "Prep", lab: "Prep" },
      ],
      [
        { canary: "Finalize", "wave-1": "Upgrade", "wave-2": "Prep" },
        { canary: "Finalize", main: "Upgrade", lab: "Upgrade" },
      ],
      [
        { canary: "Idle", "wave-1": "Finalize", "wave-2": "Abort" },
        { canary: "Idle", main: "Finalize", lab: "Rollback" },
      ],
    ];
    const files = [join(root, "fleets", "fleet.yaml"), join(root, "fleets", "fleet-ibgu.yaml")];
    let before = new Map<string, KubeObject>();
    let updates = 0;
    for (const [a, b] of commits) {
      stages(cgu, a);
      stages(ibgu, b);
      cgu.spec.groups.forEach((g: Json) => (g.abortOnFailure = undefined));
      ibgu.spec.groups.forEach((g: Json) => (g.abortOnFailure = g.name !== "lab"));
      writeFileSync(files[0]!, stringify(cgu));
      writeFileSync(files[1]!, stringify(ibgu));
      runSynth({ files, out, check: false }, () => undefined);
      const objects = [
        ...objectsOf(readTree(join(out, "du-sno"))),
        ...objectsOf(readTree(join(out, "du-sno-ibgu"))),
      ];
      updates += objects.filter(o => before.has(key(o))).length;
      expect(await sync(objects, before)).toEqual([]);
      before = new Map(objects.map(o => [key(o), o]));
    }
    // Every commit after the first updated objects the previous one created.
    expect(updates).toBeGreaterThan(20);

    // Now a commit TALM's CRD refuses: main is at Finalize with abortOnFailure; turning it off
    // and changing the init-monitor timeout rewrites the plan and the ibuSpec.
    ibgu.spec.autoRollback.initMonitorTimeoutSeconds = 600;
    ibgu.spec.groups.forEach((g: Json) => (g.abortOnFailure = false));
    writeFileSync(files[1]!, stringify(ibgu));
    let refused = "";
    try {
      runSynth({ files, out, check: false }, () => undefined);
    } catch (err) {
      if (!(err instanceof FleetError)) throw err;
      refused = err.message;
    }
    expect(refused).toMatch(/group main: ibuSpec is immutable/);
    expect(refused).toMatch(/group main: a plan may only grow by appending/);
    // The same objects, written anyway, are what the apiserver refuses with TALM's messages.
    const forced = objectsOf(synthFleet(loadFleet(resolve(files[1]!)))).find(
      o =>
        o.kind === "ImageBasedGroupUpgrade" &&
        (o.metadata?.labels as Json)["ibu-gitops.dev/group"] === "main",
    )!;
    const res = await apply(forced);
    expect(res.status, res.message).toBe(422);
    expect(res.message).toMatch(/ibuSpec is immutable/);
    expect(res.message).toMatch(/plan is append only/);
  }, 180_000);
});
