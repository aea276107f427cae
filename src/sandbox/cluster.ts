// One test cluster as seen from a test: its kubeconfig, clients, users minted for RBAC tests,
// and CRD installation. Built from plain ClusterInfo so any test worker process can use it.
import { KubeApi } from "../../addon/shared/kube.js";
import { loadKubeconfig, type Credentials } from "../../addon/shared/kubeconfig.js";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { createHash } from "node:crypto";
import * as k8s from "@kubernetes/client-node";
import {
  httpRequest,
  statusMessage,
  type ApiResponse,
  type KubeObject,
} from "../../addon/shared/kube.js";

export { httpRequest, statusMessage, type ApiResponse, type KubeObject };
import { parse, stringify } from "yaml";
import { TinyCa } from "./certs.js";
import type { Crd, CrdSource, CrdSet } from "./crds.js";
import { sleep } from "./process.js";

export interface ClusterInfo {
  readonly name: string;
  readonly url: string;
  readonly dir: string;
  /** Admin kubeconfig (user `admin`, group `system:masters`). */
  readonly kubeconfig: string;
  readonly servingCa: string;
  readonly clientCa: { readonly cert: string; readonly key: string };
}

export interface KubeconfigInput {
  readonly name: string;
  readonly server: string;
  readonly ca: string;
  readonly user: string;
  readonly cert: string;
  readonly key: string;
}

/** Writes a self-contained kubeconfig (certificates embedded), readable by kubectl and client-node. */
export function writeKubeconfig(path: string, k: KubeconfigInput): void {
  const b64 = (p: string): string => readFileSync(p).toString("base64");
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: k.name, cluster: { server: k.server, "certificate-authority-data": b64(k.ca) } },
    ],
    users: [
      {
        name: k.user,
        user: { "client-certificate-data": b64(k.cert), "client-key-data": b64(k.key) },
      },
    ],
    contexts: [{ name: k.name, context: { cluster: k.name, user: k.user } }],
    "current-context": k.name,
  };
  writeFileSync(path, stringify(doc), { mode: 0o600 });
}

export interface MintedUser {
  readonly user: string;
  readonly groups: readonly string[];
  readonly kubeconfig: string;
  kubeConfig(): k8s.KubeConfig;
}

export class TestCluster {
  constructor(readonly info: ClusterInfo) {}

  get name(): string {
    return this.info.name;
  }

  /** A client-node KubeConfig for the admin user. */
  kubeConfig(): k8s.KubeConfig {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(this.info.kubeconfig);
    return kc;
  }

  api<T extends k8s.ApiType>(apiClass: new (config: k8s.Configuration) => T): T {
    return this.kubeConfig().makeApiClient(apiClass);
  }

  objects(): k8s.KubernetesObjectApi {
    return k8s.KubernetesObjectApi.makeApiClient(this.kubeConfig());
  }

  /** True when the apiserver answers /readyz with 200 to the admin user. */
  isReady(): Promise<boolean> {
    const kc = readFileSync(this.info.kubeconfig, "utf8");
    const data = (key: string): Buffer =>
      Buffer.from(new RegExp(`${key}: (\\S+)`).exec(kc)?.[1] ?? "", "base64");
    return new Promise(resolve => {
      const req = request(
        `${this.info.url}/readyz`,
        {
          ca: data("certificate-authority-data"),
          cert: data("client-certificate-data"),
          key: data("client-key-data"),
          timeout: 2000,
        },
        res => {
          res.resume();
          resolve(res.statusCode === 200);
        },
      );
      req.on("error", () => resolve(false));
      req.on("timeout", () => req.destroy());
      req.end();
    });
  }

  /**
   * Issues a client certificate for `user` in `groups` (how kube-apiserver reads CN and O) and
   * a kubeconfig for it. The user has no permissions until RBAC grants some.
   */
  async mintUser(user: string, groups: readonly string[] = []): Promise<MintedUser> {
    const id = createHash("sha256")
      .update(JSON.stringify([user, groups]))
      .digest("hex")
      .slice(0, 16);
    const dir = join(this.info.dir, "users", id);
    mkdirSync(dir, { recursive: true });
    const ca = TinyCa.fromFiles(this.info.clientCa.cert, this.info.clientCa.key, dir);
    const pair = await ca.issue("user", { cn: user, orgs: groups }, "client");
    const kubeconfig = join(dir, "kubeconfig");
    writeKubeconfig(kubeconfig, {
      name: this.name,
      server: this.info.url,
      ca: this.info.servingCa,
      user,
      ...pair,
    });
    return {
      user,
      groups,
      kubeconfig,
      kubeConfig: () => {
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(kubeconfig);
        return kc;
      },
    };
  }

  /** An HTTP request to the apiserver as the admin user; resolves with status and parsed body. */
  async request(method: string, path: string, body?: unknown): Promise<ApiResponse> {
    return httpRequest(this.kubeConfig(), this.info.url, method, path, body);
  }

  /** Plural and scope of a kind, from discovery (cached per cluster object). */
  async resourceFor(
    apiVersion: string,
    kind: string,
  ): Promise<{ plural: string; namespaced: boolean }> {
    const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    let list = this.discovery.get(base);
    if (!list) {
      const res = await this.request("GET", base);
      if (res.status !== 200)
        throw new Error(`${this.name}: ${apiVersion} is not served (HTTP ${res.status})`);
      list = (res.body as { resources: DiscoveredResource[] }).resources;
      this.discovery.set(base, list);
    }
    const r = list.find(x => x.kind === kind && !x.name.includes("/"));
    if (!r) throw new Error(`${this.name}: ${apiVersion} serves no kind ${kind}`);
    return { plural: r.name, namespaced: r.namespaced };
  }

  private readonly discovery = new Map<string, DiscoveredResource[]>();

  /**
   * Creates `obj` with server-side dry-run and strict field validation: the apiserver runs
   * schema validation, CEL rules and admission but stores nothing. Resolves with the response.
   */
  async dryRunCreate(obj: KubeObject, namespace = obj.metadata?.namespace): Promise<ApiResponse> {
    const { plural, namespaced } = await this.resourceFor(obj.apiVersion, obj.kind);
    const base = obj.apiVersion.includes("/")
      ? `/apis/${obj.apiVersion}`
      : `/api/${obj.apiVersion}`;
    const ns = namespaced ? `/namespaces/${namespace ?? "default"}` : "";
    return this.request("POST", `${base}${ns}/${plural}?dryRun=All&fieldValidation=Strict`, obj);
  }

  /** Creates (or replaces) CRDs and waits until every one is Established and served. */
  async installCrds(crds: readonly Crd[], timeoutMs = 60_000): Promise<void> {
    const api = this.api(k8s.ApiextensionsV1Api);
    await Promise.all(crds.map(crd => createOrReplaceCrd(this, crd)));
    const names = new Set(crds.map(c => c.metadata.name));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const list = await api.listCustomResourceDefinition();
      const pending = list.items
        .filter(c => names.has(c.metadata?.name ?? ""))
        .filter(
          c => !c.status?.conditions?.some(x => x.type === "Established" && x.status === "True"),
        );
      const missing = [...names].filter(n => !list.items.some(c => c.metadata?.name === n));
      if (!pending.length && !missing.length) break;
      if (Date.now() > deadline) {
        throw new Error(
          `CRDs not Established on ${this.name} after ${timeoutMs} ms: ${[...pending.map(c => c.metadata?.name), ...missing].join(", ")}`,
        );
      }
      await sleep(100);
    }
    await this.waitServed(crds, deadline);
  }

  /** Waits until discovery lists every CRD's resource, so clients can use it at once. */
  private async waitServed(crds: readonly Crd[], deadline: number): Promise<void> {
    for (const crd of crds) {
      const version = crd.spec.versions.find(v => v.served)?.name ?? "";
      for (;;) {
        try {
          const res = await fetchResourceList(this, crd.spec.group, version);
          // Listed in discovery, and its storage answers a list (not 429 "initializing").
          const list = await this.request(
            "GET",
            `/apis/${crd.spec.group}/${version}/${crd.spec.names.plural}?limit=1`,
          );
          if (res.includes(crd.spec.names.plural) && list.status === 200) break;
        } catch {
          // not served yet
        }
        if (Date.now() > deadline)
          throw new Error(`${crd.metadata.name} not served on ${this.name}`);
        await sleep(100);
      }
    }
  }

  /** Installs the CRDs of the given set ("hub" or "spoke") from a list of sources. */
  installCrdSet(sources: readonly CrdSource[], set: CrdSet): Promise<void> {
    return this.installCrds(sources.filter(s => s.sets.includes(set)).map(s => s.crd));
  }
}

/**
 * Creates or replaces a CRD with raw JSON: client-node's typed models drop schema extensions
 * such as x-kubernetes-int-or-string (kubernetes-client/javascript#2483).
 */
async function createOrReplaceCrd(cluster: TestCluster, crd: Crd): Promise<void> {
  const base = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
  const created = await cluster.request("POST", base, crd);
  if (created.status === 201) return;
  if (created.status !== 409)
    throw new Error(
      `creating CRD ${crd.metadata.name} on ${cluster.name}: ${statusMessage(created)}`,
    );
  const existing = await cluster.request("GET", `${base}/${crd.metadata.name}`);
  const rv = (existing.body as { metadata?: { resourceVersion?: string } }).metadata
    ?.resourceVersion;
  const body = { ...crd, metadata: { ...crd.metadata, resourceVersion: rv } };
  const replaced = await cluster.request("PUT", `${base}/${crd.metadata.name}`, body);
  if (replaced.status !== 200)
    throw new Error(
      `replacing CRD ${crd.metadata.name} on ${cluster.name}: ${statusMessage(replaced)}`,
    );
}

async function fetchResourceList(
  cluster: TestCluster,
  group: string,
  version: string,
): Promise<string[]> {
  const res = await cluster.request("GET", `/apis/${group}/${version}`);
  if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  return (res.body as { resources: DiscoveredResource[] }).resources.map(r => r.name);
}

interface DiscoveredResource {
  name: string;
  kind: string;
  namespaced: boolean;
}

/** A token of ServiceAccount `namespace/name` (which must exist) from the TokenRequest API. */
export async function serviceAccountToken(
  api: Pick<KubeApi, "create">,
  namespace: string,
  name: string,
  expirationSeconds = 3600,
): Promise<string> {
  const res = await api.create<{ status: { token: string } }>(
    `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds },
    },
  );
  return res.status.token;
}

/**
 * Credentials of a ServiceAccount on a test cluster, through the TokenRequest API: what a pod
 * running as that account would use (tests run an agent with exactly its generated RBAC).
 */
export async function serviceAccountCredentials(
  cluster: TestCluster,
  namespace: string,
  name: string,
): Promise<Credentials> {
  const admin = new KubeApi(loadKubeconfig(cluster.info.kubeconfig));
  const token = await serviceAccountToken(admin, namespace, name);
  const ca = readFileSync(cluster.info.servingCa);
  return {
    server: cluster.info.url,
    applyToHTTPSOptions(opts) {
      opts.ca = ca;
      opts.headers = { ...(opts.headers ?? {}), Authorization: `Bearer ${token}` };
      return Promise.resolve();
    },
  };
}

/** One kubeconfig with a context per cluster (named after it), as an operator keeps them. */
export function writeContextsKubeconfig(path: string, clusters: readonly TestCluster[]): void {
  const merged = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [] as object[],
    users: [] as object[],
    contexts: [] as object[],
    "current-context": clusters[0]?.name,
  };
  for (const c of clusters) {
    const one = parse(readFileSync(c.info.kubeconfig, "utf8")) as {
      clusters: Array<{ cluster: object }>;
      users: Array<{ user: object }>;
    };
    merged.clusters.push({ name: c.name, cluster: one.clusters[0]!.cluster });
    merged.users.push({ name: c.name, user: one.users[0]!.user });
    merged.contexts.push({ name: c.name, context: { cluster: c.name, user: c.name } });
  }
  writeFileSync(path, stringify(merged), { mode: 0o600 });
}
