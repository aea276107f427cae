// The control-plane harness itself: isolation between clusters, RBAC for minted users, every
// third-party CRD served, and clean teardown even when the owning process dies.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { statusMessage } from "../support/cluster.js";
import { ControlPlane } from "../support/controlplane.js";
import { THIRD_PARTY_MODULES } from "../support/crds.js";
import { downloadModules } from "../support/go.js";
import { freePort, isAlive, sleep } from "../support/process.js";
import { SAMPLES_NAMESPACE, THIRD_PARTY_SAMPLES } from "../support/samples.js";
import { sharedCluster, uniqueName } from "../support/shared.js";

const hub = sharedCluster("hub");
const spoke1 = sharedCluster("spoke-1");
const spoke2 = sharedCluster("spoke-2");

async function createNamespace(cluster = hub, name = uniqueName("ns")): Promise<string> {
  const res = await cluster.request("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name },
  });
  expect(res.status, statusMessage(res)).toBe(201);
  return name;
}

describe("the shared control plane", () => {
  it("keeps clusters isolated: an object created in one is absent in the others", async () => {
    const ns = await createNamespace(spoke1);
    const cm = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "marker", namespace: ns },
      data: { on: "spoke-1" },
    };
    expect((await spoke1.request("POST", `/api/v1/namespaces/${ns}/configmaps`, cm)).status).toBe(
      201,
    );

    expect((await spoke1.request("GET", `/api/v1/namespaces/${ns}/configmaps/marker`)).status).toBe(
      200,
    );
    expect((await spoke2.request("GET", `/api/v1/namespaces/${ns}/configmaps/marker`)).status).toBe(
      404,
    );
    expect((await hub.request("GET", `/api/v1/namespaces/${ns}`)).status).toBe(404);
  });

  it("denies a minted non-admin user until a RoleBinding grants access", async () => {
    const ns = await createNamespace();
    const user = await hub.mintUser(uniqueName("alice"), ["ibu-operators"]);
    const asUser = (): Promise<{ status: number }> =>
      import("../support/cluster.js").then(m =>
        m.httpRequest(
          user.kubeConfig(),
          hub.info.url,
          "GET",
          `/api/v1/namespaces/${ns}/configmaps`,
        ),
      );

    expect((await asUser()).status).toBe(403);

    const role = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "cm-reader", namespace: ns },
      rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["list"] }],
    };
    const binding = {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "cm-reader", namespace: ns },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "cm-reader" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "ibu-operators" }],
    };
    expect(
      (await hub.request("POST", `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, role))
        .status,
    ).toBe(201);
    expect(
      (
        await hub.request(
          "POST",
          `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`,
          binding,
        )
      ).status,
    ).toBe(201);

    // RBAC changes reach the authorizer through an informer: allow it a moment.
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++, await sleep(100))
      status = (await asUser()).status;
    expect(status).toBe(200);
  });

  it("has a sample for every third-party kind it installs", () => {
    const sampled = new Set(THIRD_PARTY_SAMPLES.map(s => s.kind));
    // CRDs in no set are installed only by the tests that need them, not on the shared clusters.
    const installed = THIRD_PARTY_MODULES.flatMap(m =>
      m.crds.filter(c => c.sets.length).map(c => c.file),
    );
    // Every CRD file yields one kind; compare counts and that no sample kind is duplicated.
    expect(sampled.size).toBe(THIRD_PARTY_SAMPLES.length);
    expect(sampled.size).toBe(installed.length);
  });

  it("serves every third-party kind: each sample passes server-side dry-run with strict field validation", async () => {
    for (const cluster of [hub, spoke1])
      await createNamespace(cluster, SAMPLES_NAMESPACE).catch(() => undefined);
    const failures: string[] = [];
    for (const sample of THIRD_PARTY_SAMPLES) {
      const target = await hub.resourceFor(sample.apiVersion, sample.kind).then(
        () => hub,
        () => spoke1,
      );
      const res = await target.dryRunCreate(sample);
      if (res.status !== 201)
        failures.push(`${sample.kind} on ${target.name}: ${statusMessage(res)}`);
    }
    expect(failures).toEqual([]);
  });

  it("rejects an unknown field under strict validation, so the dry-run test can fail", async () => {
    const bad = {
      ...THIRD_PARTY_SAMPLES.find(s => s.kind === "ClusterGroupUpgrade")!,
      notAField: true,
    };
    const res = await hub.dryRunCreate({ ...bad, metadata: { name: "bad", namespace: "default" } });
    expect(res.status).toBe(400);
    expect(statusMessage(res)).toMatch(/unknown field "notAField"/);
  });
});

describe("a control plane of its own", () => {
  let occupied: Server;
  let occupiedPort: number;

  beforeAll(async () => {
    occupiedPort = await freePort();
    occupied = createServer().listen(occupiedPort, "127.0.0.1");
  });
  afterAll(() => void occupied.close());

  it("moves to another port when the one it tried is taken, and leaves nothing behind after stop", async () => {
    let calls = 0;
    // Calls 1 (etcd client port) and 5 (first apiserver port) get the occupied port.
    const ports = async (): Promise<number> =>
      ++calls === 1 || calls === 5 ? occupiedPort : freePort();
    const cp = await ControlPlane.start({ clusters: ["solo"], ports });
    const { root, pids } = { root: cp.root, pids: cp.pids };
    try {
      expect(calls).toBeGreaterThanOrEqual(6);
      expect(cp.info.etcdUrl).not.toContain(`:${occupiedPort}`);
      expect(cp.cluster("solo").info.url).not.toContain(`:${occupiedPort}`);
      expect(await cp.cluster("solo").isReady()).toBe(true);
      expect(pids.length).toBe(3); // etcd, apiserver, watchdog
    } finally {
      await cp.stop();
    }
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(root)).toBe(false);
  });

  it("fails with the last lines of a binary's log when it exits early", async () => {
    const real = inject("controlPlane").binaries;
    const assets = mkdtempSync(join(tmpdir(), "ibu-gitops-assets-"));
    symlinkSync(real.etcd, join(assets, "etcd"));
    symlinkSync(real.kubectl, join(assets, "kubectl"));
    writeFileSync(
      join(assets, "kube-apiserver"),
      "#!/bin/sh\necho 'E1126 fatal: the disk is on fire' >&2\nexit 3\n",
    );
    chmodSync(join(assets, "kube-apiserver"), 0o755);
    const saved = process.env.KUBEBUILDER_ASSETS;
    process.env.KUBEBUILDER_ASSETS = assets;
    try {
      await expect(ControlPlane.start({ clusters: ["doomed"] })).rejects.toThrow(
        /kube-apiserver \(doomed\) exited with code 3 before it was ready[\s\S]*the disk is on fire/,
      );
    } finally {
      if (saved === undefined) delete process.env.KUBEBUILDER_ASSETS;
      else process.env.KUBEBUILDER_ASSETS = saved;
      rmSync(assets, { recursive: true, force: true });
    }
  });

  it("is cleaned up by its watchdog when the owning process is killed, with what it adopted", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "../support/fixtures/hold-controlplane.ts")],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("\n")) resolve(out.split("\n")[0]!);
      });
      child.once("exit", code => reject(new Error(`fixture exited with ${code} before printing`)));
    });
    const { pids, root, adopted } = JSON.parse(line) as {
      pids: number[];
      root: string;
      adopted: string;
    };
    expect(pids.filter(isAlive).length).toBe(pids.length);
    expect(existsSync(join(adopted, "immutable"))).toBe(true);

    child.kill("SIGKILL");
    const deadline = Date.now() + 30_000;
    const gone = (): boolean => !pids.some(isAlive) && !existsSync(root) && !existsSync(adopted);
    while (!gone() && Date.now() < deadline) await sleep(200);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(existsSync(root)).toBe(false);
    // What the owner gave it (ControlPlane.adopt): a process and a folder, immutable file and all.
    expect(existsSync(adopted)).toBe(false);
  });
});

describe("pinned Go modules", () => {
  it("names the module and version the proxy does not serve", async () => {
    await expect(
      downloadModules([
        { path: "open-cluster-management.io/api", version: "v0.0.999", sum: "h1:none" },
      ]),
    ).rejects.toThrow(/open-cluster-management\.io\/api@v0\.0\.999/);
  });

  it("rejects a module whose content differs from the pinned checksum", async () => {
    const pin = THIRD_PARTY_MODULES.find(m => m.path === "github.com/vmware-tanzu/velero")!;
    await expect(
      downloadModules([{ ...pin, sum: "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" }]),
    ).rejects.toThrow(/github.com\/vmware-tanzu\/velero@v1\.18\.3 has checksum h1:9uwN5/);
  });
});
