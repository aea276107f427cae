// Generated output against a real hub: every object from every example passes server-side
// dry-run with strict field validation against the upstream CRDs, and `kubectl kustomize`
// (the real kubectl) builds each output folder into the same objects.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, inject, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { scratchDir } from "../support/scratch.js";
import { fleetFiles } from "../../src/cli/fleet-files.js";
import { loadFleet } from "../../src/fleet/load.js";
import { synthFleet, writeTree } from "../../src/synth.js";
import { statusMessage, type KubeObject } from "../support/cluster.js";
import { sharedCluster } from "../support/shared.js";

const exec = promisify(execFile);
const hub = sharedCluster("hub");

const examples = fleetFiles(["examples"]).map(file => ({
  file,
  files: synthFleet(loadFleet(file)),
}));

function docs(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map(d => d.toJS() as KubeObject)
    .filter(Boolean);
}

describe.each(examples)("synthesized $file", ({ files }) => {
  it("passes server-side dry-run with strict field validation, object by object", async () => {
    const objects = [...files.entries()]
      .filter(([f]) => !f.endsWith("kustomization.yaml"))
      .flatMap(([, t]) => docs(t));
    expect(objects.length).toBeGreaterThan(5);
    // Namespaces must exist for namespaced dry-runs: create them for real (idempotently).
    const namespaces = new Set(
      objects
        .flatMap(o => [
          o.metadata?.namespace,
          o.kind === "Namespace" ? o.metadata?.name : undefined,
        ])
        .filter((n): n is string => !!n),
    );
    for (const ns of namespaces) {
      const res = await hub.request("POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: ns },
      });
      expect([201, 409], statusMessage(res)).toContain(res.status);
    }
    const failures: string[] = [];
    for (const o of objects) {
      const res = await hub.dryRunCreate(o);
      // A Namespace we just created exists already: dry-run says AlreadyExists (409), which is fine;
      // so is our hub CRD, which the shared hub has (test/integration/addon.test.ts applies it).
      const exists = ["Namespace", "CustomResourceDefinition"].includes(o.kind);
      if (res.status !== 201 && !(exists && res.status === 409)) {
        failures.push(`${o.kind} ${o.metadata?.name}: ${statusMessage(res)}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("builds with kubectl kustomize into exactly the objects of its files", async () => {
    const dir = join(scratchDir("ibu-kustomize"), "out");
    writeTree(dir, files);
    const kubectl = inject("controlPlane").binaries.kubectl;
    const { stdout } = await exec(kubectl, ["kustomize", dir], { maxBuffer: 64 * 1024 * 1024 });
    const key = (o: KubeObject): string =>
      `${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name}`;
    const built = docs(stdout).sort((a, b) => key(a).localeCompare(key(b)));
    const listed = [...files.entries()]
      .filter(([f]) => !f.startsWith("argocd/") && f !== "kustomization.yaml")
      .flatMap(([, t]) => docs(t))
      .sort((a, b) => key(a).localeCompare(key(b)));
    expect(built).toEqual(listed);
  });
});

describe("secret material", () => {
  it("never reaches the output: the seed pull secret on the hub is referenced by name only", async () => {
    const fleet = loadFleet("examples/fleet-ibgu.yaml");
    const token = `tok-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    const dockerconfig = Buffer.from(
      JSON.stringify({
        auths: { "quay.example.com": { auth: Buffer.from(`robot:${token}`).toString("base64") } },
      }),
    );
    const ns = fleet.spec.hub.upgradeNamespace;
    await hub.request("POST", "/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns },
    });
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/dockerconfigjson",
      metadata: { name: fleet.spec.seedImage.pullSecretRef!.name, namespace: ns },
      data: { ".dockerconfigjson": dockerconfig.toString("base64") },
    };
    const res = await hub.request("POST", `/api/v1/namespaces/${ns}/secrets`, secret);
    expect([201, 409], statusMessage(res)).toContain(res.status);

    const text = [...synthFleet(fleet).values()].join("\n");
    expect(text).toContain(`name: ${secret.metadata.name}`);
    for (const needle of [
      token,
      Buffer.from(`robot:${token}`).toString("base64"),
      secret.data[".dockerconfigjson"],
    ]) {
      expect(text).not.toContain(needle);
    }
    expect(text).not.toMatch(/^kind: Secret$/m);
    expect(text).not.toMatch(/dockerconfigjson/);
  });
});
