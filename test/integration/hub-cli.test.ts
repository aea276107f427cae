// `ibu-gitops hub` as the generated Deployment runs it: a process with --tls-cert/--tls-key
// serves HTTPS only, its probes answer without a token, and the API answers 401 without one
// and 200 with a reader's ServiceAccount token; a rotated certificate is served without a
// restart.
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect as tlsConnect } from "node:tls";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TinyCa } from "../../src/sandbox/certs.js";
import { Authorizer } from "../../addon/hub/auth.js";
import { HubController } from "../../addon/hub/controller.js";
import { HubServer } from "../../addon/hub/server.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { loadKubeconfig } from "../../addon/shared/kubeconfig.js";
import { lineLogger } from "../../addon/shared/log.js";
import { watchCertificate } from "../../src/cli/hub.js";
import { freePort } from "../../src/sandbox/process.js";
import { Hub, waitFor } from "../support/hub-fixture.js";
import { sharedCluster, uniqueName } from "../support/shared.js";

const cluster = sharedCluster("hub");
const hub = new Hub(cluster);

function get(url: string, ca: Buffer, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ca, headers: token ? { Authorization: `Bearer ${token}` } : {} },
      res => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("ibu-gitops hub over TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "ibu-hub-tls-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("serves HTTPS with the given certificate, probes without a token, the API only with one", async () => {
    const ca = await TinyCa.create(dir, "service-ca");
    const serving = await ca.issue("serving", { cn: "ibu-gitops-hub" }, "server", ["IP:127.0.0.1"]);
    const port = await freePort();
    const child = spawn(
      process.execPath,
      [
        "bin/ibu-gitops.js",
        "hub",
        `--kubeconfig=${cluster.info.kubeconfig}`,
        "--namespace=default",
        `--listen=127.0.0.1:${port}`,
        `--tls-cert=${serving.cert}`,
        `--tls-key=${serving.key}`,
        `--cluster-selector=ibu-gitops.test/none=${uniqueName("x")}`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let log = "";
    child.stdout.on("data", (d: Buffer) => (log += d.toString()));
    child.stderr.on("data", (d: Buffer) => (log += d.toString()));
    try {
      const caPem = readFileSync(ca.certPath);
      const base = `https://127.0.0.1:${port}`;
      await waitFor("the hub answering", async () =>
        get(`${base}/healthz`, caPem).then(
          s => s === 200,
          () => false,
        ),
      );
      expect(log).toMatch(/serving HTTPS/);
      // Ready only after the controller's first list of the hub: under load that comes after
      // the server answers /healthz, so wait for it rather than read it once.
      await waitFor("the hub ready", async () => (await get(`${base}/readyz`, caPem)) === 200);
      expect(await get(`${base}/api/v1/summary`, caPem)).toBe(401);
      const ns = uniqueName("hubtls");
      await hub.namespace(ns);
      const token = await hub.saToken(ns, "reader");
      await hub.grantReader(ns, "reader");
      expect(await get(`${base}/api/v1/summary`, caPem, token)).toBe(200);
      // No plain HTTP on the same port.
      const plain = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        r => r.status,
        () => "refused",
      );
      expect(plain === "refused" || plain === 400).toBe(true);
    } finally {
      child.kill("SIGTERM");
      await new Promise(r => child.once("exit", r));
    }
  });

  it("serves a rotated certificate to new connections without a restart", async () => {
    const ca = await TinyCa.create(dir, "rotating-ca");
    const first = await ca.issue("first", { cn: "hub-first" }, "server", ["IP:127.0.0.1"]);
    const second = await ca.issue("second", { cn: "hub-second" }, "server", ["IP:127.0.0.1"]);
    const certFile = join(dir, "tls.crt");
    const keyFile = join(dir, "tls.key");
    copyFileSync(first.cert, certFile);
    copyFileSync(first.key, keyFile);
    const api = new KubeApi(loadKubeconfig(cluster.info.kubeconfig));
    const controller = new HubController({ api, namespace: "default", identity: "tls-test" });
    const server = new HubServer({
      controller,
      authorizer: new Authorizer(api),
      listen: "127.0.0.1:0",
      tls: { cert: readFileSync(certFile), key: readFileSync(keyFile) },
    });
    const { port } = await server.listen();
    const lines: string[] = [];
    const timer = watchCertificate(
      certFile,
      keyFile,
      server,
      lineLogger(l => lines.push(l)),
      100,
    );
    try {
      const caPem = readFileSync(ca.certPath);
      expect(await peerCn(port, caPem)).toBe("hub-first");
      copyFileSync(second.cert, certFile);
      copyFileSync(second.key, keyFile);
      await waitFor(
        "the new certificate served",
        async () => (await peerCn(port, caPem)) === "hub-second",
      );
      expect(lines.join("\n")).toContain("serving certificate changed on disk");
    } finally {
      clearInterval(timer);
      await server.close();
    }
  });
});

/** The CN of the certificate the server presents to a new connection. */
function peerCn(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port, ca }, () => {
      const cn: string | string[] | undefined = socket.getPeerCertificate().subject.CN;
      socket.end();
      resolve(Array.isArray(cn) ? cn.join(",") : (cn ?? ""));
    });
    socket.on("error", reject);
  });
}
