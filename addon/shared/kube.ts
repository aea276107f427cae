// Kubernetes plumbing shared by the spoke agent and the hub controller: raw JSON requests with
// a kubeconfig's credentials (client-node's typed models drop schema extensions and unknown
// fields), and a watch that survives everything a long-lived controller meets: errors and
// dropped streams (restart with backoff), expired resource versions (relist), silent streams
// (a staleness watchdog) and drift (a periodic relist).
import { request } from "node:https";
import { request as httpRequestPlain } from "node:http";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Credentials } from "./kubeconfig.js";
import { SILENT, type Logger } from "./log.js";

export interface ApiResponse {
  readonly status: number;
  /** Parsed JSON, or the raw text when the body is not JSON. */
  readonly body: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** The message of a Kubernetes Status body, or the HTTP status. */
export function statusMessage(res: ApiResponse): string {
  const msg = (res.body as { message?: string } | undefined)?.message;
  return `HTTP ${res.status}${msg ? `: ${msg}` : ""}`;
}

/** One HTTP request with a kubeconfig's credentials. */
export async function httpRequest(
  kc: Pick<KubeConfig, "applyToHTTPSOptions"> | Credentials,
  server: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<ApiResponse> {
  const opts: Record<string, unknown> & { headers?: Record<string, string> } = {
    method,
    timeout: 30_000,
  };
  await (kc as Credentials).applyToHTTPSOptions(opts);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  opts.headers = {
    ...(opts.headers ?? {}),
    Accept: "application/json",
    ...(payload ? { "Content-Type": contentType } : {}),
  };
  const send = server.startsWith("http://") ? httpRequestPlain : request;
  return new Promise((resolve, reject) => {
    const req = send(`${server}${path}`, opts, res => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => {
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // keep the text
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)));
    if (payload) req.write(payload);
    req.end();
  });
}

/** Thrown for an unexpected API answer; `status` is the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** A small client over raw JSON for the objects our controllers own. */
export class KubeApi {
  readonly server: string;
  readonly kc: Credentials;

  /** Takes client-node's KubeConfig (tests, the hub) or our small reader's Credentials (the agent). */
  constructor(kc: KubeConfig | Credentials) {
    if ("getCurrentCluster" in kc) {
      const cluster = kc.getCurrentCluster();
      if (!cluster) throw new Error("kubeconfig has no current cluster");
      this.server = cluster.server;
      this.kc = { server: cluster.server, applyToHTTPSOptions: o => kc.applyToHTTPSOptions(o) };
    } else {
      this.server = kc.server;
      this.kc = kc;
    }
  }

  request(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<ApiResponse> {
    return httpRequest(this.kc, this.server, method, path, body, contentType);
  }

  /** GET; undefined on 404. */
  async get<T>(path: string): Promise<T | undefined> {
    const res = await this.request("GET", path);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new ApiError(res.status, `GET ${path}: ${statusMessage(res)}`);
    return res.body as T;
  }

  async create<T>(collection: string, obj: unknown): Promise<T> {
    const res = await this.request("POST", collection, obj);
    if (res.status !== 201 && res.status !== 200)
      throw new ApiError(res.status, `POST ${collection}: ${statusMessage(res)}`);
    return res.body as T;
  }

  async replace<T>(path: string, obj: unknown): Promise<T> {
    const res = await this.request("PUT", path, obj);
    if (res.status !== 200) throw new ApiError(res.status, `PUT ${path}: ${statusMessage(res)}`);
    return res.body as T;
  }

  async delete(path: string): Promise<void> {
    const res = await this.request("DELETE", path);
    if (res.status !== 200 && res.status !== 202 && res.status !== 404)
      throw new ApiError(res.status, `DELETE ${path}: ${statusMessage(res)}`);
  }

  private readonly discovery = new Map<
    string,
    Array<{ name: string; kind: string; namespaced: boolean }>
  >();

  /**
   * The REST path of an object (or of its collection, with `collection`), found through API
   * discovery, which is cached per group version.
   */
  async pathOf(
    obj: { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string } },
    collection = false,
  ): Promise<string> {
    const base = obj.apiVersion.includes("/")
      ? `/apis/${obj.apiVersion}`
      : `/api/${obj.apiVersion}`;
    let resources = this.discovery.get(base);
    if (!resources) {
      const list = await this.get<{
        resources: Array<{ name: string; kind: string; namespaced: boolean }>;
      }>(base);
      if (!list) throw new ApiError(404, `${obj.apiVersion} is not served`);
      resources = list.resources;
      this.discovery.set(base, resources);
    }
    const r = resources.find(x => x.kind === obj.kind && !x.name.includes("/"));
    if (!r) throw new ApiError(404, `${obj.apiVersion} serves no kind ${obj.kind}`);
    const ns = r.namespaced ? `/namespaces/${obj.metadata?.namespace ?? "default"}` : "";
    return `${base}${ns}/${r.name}${collection ? "" : `/${obj.metadata?.name ?? ""}`}`;
  }

  /** Creates `obj`, or replaces it when it exists (carrying over the resourceVersion). */
  async apply<T>(obj: KubeObject): Promise<T> {
    const path = await this.pathOf(obj);
    const existing = await this.get<KubeObject>(path);
    if (!existing) return this.create<T>(await this.pathOf(obj, true), obj);
    return this.replace<T>(path, {
      ...obj,
      metadata: { ...obj.metadata, resourceVersion: existing.metadata?.resourceVersion },
    });
  }

  /** Every item of a collection (a path, with a query if any), in pages of `pageSize`. */
  async list<T>(collection: string, pageSize = 500): Promise<T[]> {
    const items: T[] = [];
    let token = "";
    do {
      const sep = collection.includes("?") ? "&" : "?";
      const cont = token ? `&continue=${encodeURIComponent(token)}` : "";
      const page = await this.get<{ items: T[]; metadata?: { continue?: string } }>(
        `${collection}${sep}limit=${pageSize}${cont}`,
      );
      if (!page) throw new ApiError(404, `${collection} is not served`);
      items.push(...page.items);
      token = page.metadata?.continue ?? "";
    } while (token);
    return items;
  }

  async mergePatch<T>(path: string, patch: unknown): Promise<T> {
    const res = await this.request("PATCH", path, patch, "application/merge-patch+json");
    if (res.status !== 200) throw new ApiError(res.status, `PATCH ${path}: ${statusMessage(res)}`);
    return res.body as T;
  }
}

export type WatchEvent<T> =
  { type: "ADDED" | "MODIFIED" | "DELETED"; object: T } | { type: "RELISTED"; objects: T[] };

export interface WatchOptions {
  /** Relist this often even when the stream looks healthy. @default 300 s */
  readonly relistSeconds?: number;
  /** Restart a stream that sent nothing (not even a bookmark) for this long. @default 90 s */
  readonly staleSeconds?: number;
  /** Longest wait between restarts after errors. @default 30 s */
  readonly maxBackoffSeconds?: number;
  /** Restarts are logged at warn. @default SILENT */
  readonly log?: Logger;
}

/**
 * Lists then watches `collection` (e.g. /apis/g/v/things?fieldSelector=...), calling `onEvent`
 * for every change, until `signal` aborts. A list is reported as one RELISTED event with all
 * objects, so consumers reconcile the full state after any gap.
 */
export async function watchCollection<T extends { metadata?: { resourceVersion?: string } }>(
  api: KubeApi,
  collection: string,
  onEvent: (e: WatchEvent<T>) => void | Promise<void>,
  signal: AbortSignal,
  opts: WatchOptions = {},
): Promise<void> {
  const relistMs = (opts.relistSeconds ?? 300) * 1000;
  const staleMs = (opts.staleSeconds ?? 90) * 1000;
  const maxBackoff = (opts.maxBackoffSeconds ?? 30) * 1000;
  const log = opts.log ?? SILENT;
  let backoff = 500;
  while (!signal.aborted) {
    try {
      const list = await api.get<{ items: T[]; metadata: { resourceVersion: string } }>(collection);
      if (!list) throw new ApiError(404, `${collection} is not served`);
      await onEvent({ type: "RELISTED", objects: list.items });
      backoff = 500;
      await streamUntil(
        api,
        collection,
        list.metadata.resourceVersion,
        onEvent,
        signal,
        Date.now() + relistMs,
        staleMs,
      );
    } catch (err) {
      if (signal.aborted) return;
      log.warn(
        { collection, err, backoffMs: backoff },
        `watch ${collection}: restarting in ${backoff} ms`,
      );
      await sleep(backoff, signal);
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  }
}

/** Streams watch events until the relist deadline; throws on a broken, stale or expired stream. */
async function streamUntil<T extends { metadata?: { resourceVersion?: string } }>(
  api: KubeApi,
  collection: string,
  startRv: string,
  onEvent: (e: WatchEvent<T>) => void | Promise<void>,
  signal: AbortSignal,
  relistAt: number,
  staleMs: number,
): Promise<void> {
  let rv = startRv;
  while (!signal.aborted && Date.now() < relistAt) {
    const sep = collection.includes("?") ? "&" : "?";
    const timeout = Math.max(1, Math.min(300, Math.floor((relistAt - Date.now()) / 1000)));
    const path = `${collection}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${rv}&timeoutSeconds=${timeout}`;
    rv = await streamOnce<T>(api, path, rv, onEvent, signal, staleMs);
  }
}

function streamOnce<T extends { metadata?: { resourceVersion?: string } }>(
  api: KubeApi,
  path: string,
  rv: string,
  onEvent: (e: WatchEvent<T>) => void | Promise<void>,
  signal: AbortSignal,
  staleMs: number,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let lastRv = rv;
    let buffer = "";
    let chain = Promise.resolve();
    let stale: NodeJS.Timeout | undefined;
    const opts: Record<string, unknown> & { headers?: Record<string, string> } = { method: "GET" };
    const start = async (): Promise<void> => {
      await api.kc.applyToHTTPSOptions(opts);
      const send = api.server.startsWith("http://") ? httpRequestPlain : request;
      const req = send(`${api.server}${path}`, opts, res => {
        if (res.statusCode !== 200) {
          res.resume();
          return reject(new ApiError(res.statusCode ?? 0, `watch answered HTTP ${res.statusCode}`));
        }
        const arm = (): void => {
          clearTimeout(stale);
          stale = setTimeout(
            () => req.destroy(new Error(`no watch event for ${staleMs / 1000} s`)),
            staleMs,
          );
        };
        arm();
        res.on("data", (d: Buffer) => {
          arm();
          buffer += d.toString();
          let nl: number;
          while ((nl = buffer.indexOf("\n")) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (!line) continue;
            const ev = JSON.parse(line) as {
              type: string;
              object: T & { code?: number; message?: string };
            };
            if (ev.type === "ERROR") {
              req.destroy(
                new ApiError(ev.object.code ?? 0, `watch error: ${ev.object.message ?? ""}`),
              );
              return;
            }
            lastRv = ev.object.metadata?.resourceVersion ?? lastRv;
            if (ev.type === "BOOKMARK") continue;
            const event = { type: ev.type, object: ev.object } as WatchEvent<T>;
            chain = chain.then(() => onEvent(event));
          }
        });
        res.on("end", () => {
          clearTimeout(stale);
          chain.then(() => resolve(lastRv), reject);
        });
        res.on("error", err => {
          clearTimeout(stale);
          reject(err);
        });
      });
      req.on("error", err => {
        clearTimeout(stale);
        reject(err);
      });
      const onAbort = (): void => void req.destroy();
      signal.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => signal.removeEventListener("abort", onAbort));
      req.end();
    };
    start().catch(reject);
  });
}

/** Waits `ms`, or less if `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Serial work per key that coalesces: while a key's work runs, further requests for it
 * collapse into one more run afterwards. A failing run never stalls the key.
 */
export class CoalescingQueue {
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();

  constructor(private readonly onError: (key: string, err: unknown) => void = () => {}) {}

  /** Runs `work` for `key` now, or once more after the current run. Resolves when it has run. */
  enqueue(key: string, work: () => Promise<void>): Promise<void> {
    const current = this.running.get(key);
    if (current) {
      this.again.add(key);
      return current.then(() => this.running.get(key) ?? Promise.resolve());
    }
    const p = (async () => {
      do {
        this.again.delete(key);
        try {
          await work();
        } catch (err) {
          this.onError(key, err);
        }
      } while (this.again.has(key));
    })().finally(() => this.running.delete(key));
    this.running.set(key, p);
    return p;
  }

  get size(): number {
    return this.running.size;
  }
}
