// The hub's HTTP server: the JSON API, the event stream, /metrics and the health probes, over
// HTTPS (or plain HTTP for tests and behind a TLS-terminating proxy). Everything except
// /healthz and /readyz needs a token the hub's apiserver accepts and RBAC that allows the
// route's access (auth.ts). Static routes (the dashboard, dashboard/assets.ts) mount under their
// own prefix with `mount()`; nothing here serves HTML.
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { toLogger, type Logger, type LogSink } from "../shared/log.js";
import { READ_METRICS, READ_REPORTS, tokenOf, type Access, type Authorizer } from "./auth.js";
import type { FleetChange, HubController } from "./controller.js";
import {
  decodeContinue,
  matchesFilter,
  page,
  type ClusterFilter,
  type ClusterSummary,
} from "./fleet.js";

export type RouteHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
) => void | Promise<void>;

export interface HubServerOptions {
  readonly controller: HubController;
  /** Reviews every request's token; `null` turns authentication off (never in production). */
  readonly authorizer: Authorizer | null;
  /** `host:port`, `:port` (all interfaces) or a port; port 0 picks a free one. */
  readonly listen: string;
  readonly tls?: { readonly cert: Buffer | string; readonly key: Buffer | string };
  /** How often the event stream sends the fleet summary. @default 10 s */
  readonly summaryIntervalMs?: number;
  /** How often the event stream sends a heartbeat comment. @default 15 s */
  readonly heartbeatMs?: number;
  /** Unexpected (500) errors at error, dropped event-stream clients at warn. @default silent */
  readonly log?: LogSink;
}

export const DEFAULT_LIMIT = 500;
export const MAX_LIMIT = 5000;
/** An event-stream client that lets this much pile up unread is dropped. */
const MAX_BUFFERED = 8 * 1024 * 1024;

export function parseListen(listen: string): { host: string | undefined; port: number } {
  const t = listen.trim();
  const i = t.lastIndexOf(":");
  const host = i < 0 ? "" : t.slice(0, i).replace(/^\[(.*)\]$/, "$1");
  const portText = i < 0 ? t : t.slice(i + 1);
  if (!/^\d+$/.test(portText) || Number(portText) > 65535)
    throw new Error(`--listen ${JSON.stringify(listen)}: expected host:port, :port or port`);
  return { host: host || undefined, port: Number(portText) };
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const list = (v: string | null): string[] | undefined =>
  v
    ? v
        .split(",")
        .map(s => s.trim())
        .filter(Boolean)
    : undefined;

/** The list filters of a query string: stage, state, group (comma lists), name (substring). */
export function filterOf(q: URLSearchParams): ClusterFilter {
  const name = q.get("name");
  return {
    ...(list(q.get("stage")) ? { stage: list(q.get("stage")) } : {}),
    ...(list(q.get("state")) ? { state: list(q.get("state")) } : {}),
    ...(list(q.get("group")) ? { group: list(q.get("group")) } : {}),
    ...(name ? { name } : {}),
  };
}

export function limitOf(q: URLSearchParams): number {
  const raw = q.get("limit");
  if (raw === null || raw === "") return DEFAULT_LIMIT;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_LIMIT)
    throw new HttpError(400, `limit must be an integer from 1 to ${MAX_LIMIT}`);
  return Number(raw);
}

export class HubServer {
  private readonly mounts: Array<{ prefix: string; handler: RouteHandler; access: Access | null }> =
    [];
  private readonly server;
  private readonly sockets = new Set<Socket>();
  private readonly streams = new Set<ServerResponse>();
  private readonly log: Logger;

  constructor(private readonly opts: HubServerOptions) {
    this.log = toLogger(opts.log);
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    this.server = opts.tls
      ? createHttpsServer({ cert: opts.tls.cert, key: opts.tls.key }, handler)
      : createHttpServer(handler);
    this.server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.once("close", () => this.sockets.delete(s));
    });
  }

  /**
   * Serves `prefix` (e.g. "/dashboard/") with `handler`, for static pages that come later.
   * `access` is what the caller must be allowed (null: no authentication, e.g. a login page).
   */
  mount(prefix: string, handler: RouteHandler, access: Access | null = READ_REPORTS): void {
    if (prefix.startsWith("/api/") || prefix === "/metrics" || prefix.startsWith("/healthz"))
      throw new Error(`cannot mount ${prefix}: the hub serves it`);
    this.mounts.push({ prefix, handler, access });
  }

  /**
   * Serves new connections with a new certificate and key (a rotated service-CA certificate);
   * connections already open keep theirs.
   */
  setCertificate(cert: Buffer | string, key: Buffer | string): void {
    if (!this.opts.tls) throw new Error("the hub serves plain HTTP: no certificate to replace");
    (this.server as ReturnType<typeof createHttpsServer>).setSecureContext({ cert, key });
  }

  async listen(): Promise<AddressInfo> {
    const { host, port } = parseListen(this.opts.listen);
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  get url(): string {
    const a = this.server.address() as AddressInfo;
    const host =
      a.family === "IPv6"
        ? `[${a.address === "::" ? "::1" : a.address}]`
        : a.address === "0.0.0.0"
          ? "127.0.0.1"
          : a.address;
    return `${this.opts.tls ? "https" : "http"}://${host}:${a.port}`;
  }

  async close(): Promise<void> {
    for (const s of this.streams) s.end();
    const closed = new Promise<void>(r => this.server.close(() => r()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://hub");
    try {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("Allow", "GET, HEAD");
        throw new HttpError(405, `${req.method} is not allowed`);
      }
      const path = url.pathname;
      if (path === "/healthz") return this.json(res, 200, { status: "ok" });
      if (path === "/readyz") {
        const ready = this.opts.controller.ready;
        return this.json(res, ready ? 200 : 503, { status: ready ? "ok" : "syncing" });
      }
      if (path === "/metrics") {
        if (!(await this.allowed(req, res, READ_METRICS))) return;
        const metrics = this.opts.controller.metrics;
        const text = await metrics.render();
        res.writeHead(200, { "Content-Type": metrics.contentType, "Cache-Control": "no-store" });
        res.end(text);
        return;
      }
      if (path.startsWith("/api/")) {
        if (!(await this.allowed(req, res, READ_REPORTS))) return;
        return this.api(req, res, url);
      }
      const mount = this.mounts.find(m => path.startsWith(m.prefix));
      if (mount) {
        if (mount.access && !(await this.allowed(req, res, mount.access))) return;
        return await mount.handler(req, res, url);
      }
      throw new HttpError(404, `no route for ${path}`);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      if (status === 500)
        this.log.error(
          { method: req.method, path: url.pathname, err },
          `${req.method} ${url.pathname} failed`,
        );
      if (!res.headersSent) this.json(res, status, { error: (err as Error).message, status });
      else res.end();
    }
  }

  private async allowed(
    req: IncomingMessage,
    res: ServerResponse,
    access: Access,
  ): Promise<boolean> {
    if (this.opts.authorizer === null) return true;
    const verdict = await this.opts.authorizer.check(tokenOf(req.headers), access);
    if (verdict.status === 200) return true;
    if (verdict.status === 401) res.setHeader("WWW-Authenticate", 'Bearer realm="ibu-gitops-hub"');
    this.json(res, verdict.status, { error: verdict.reason, status: verdict.status });
    return false;
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      "Content-Type": "application/json",
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
      "Content-Length": Buffer.byteLength(text),
    });
    res.end(text);
  }

  private api(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const c = this.opts.controller;
    const now = Date.now();
    const path = url.pathname.replace(/\/+$/, "");
    if (path === "/api/v1/summary") {
      return this.json(res, 200, {
        ...c.summary(now),
        leader: c.isLeader,
        ready: c.ready,
        stuckAfterSeconds: Math.round(c.stuckAfterMs / 1000),
        generatedAt: new Date(now).toISOString(),
      });
    }
    if (path === "/api/v1/clusters") {
      const q = url.searchParams;
      const filter = filterOf(q);
      const limit = limitOf(q);
      let after: string | undefined;
      const token = q.get("continue");
      if (token) {
        try {
          after = decodeContinue(token);
        } catch (err) {
          throw new HttpError(400, (err as Error).message);
        }
      }
      const p = page<ClusterSummary>(
        c.fleet.names(),
        n => c.fleet.summary(n, now, c.stuckAfterMs),
        s => matchesFilter(s, filter),
        limit,
        after,
      );
      return this.json(res, 200, {
        items: p.items,
        metadata: {
          ...(p.continue ? { continue: p.continue } : {}),
          remainingItemCount: p.remaining,
        },
      });
    }
    const m = /^\/api\/v1\/clusters\/([^/]+)$/.exec(path);
    if (m) {
      const name = decodeURIComponent(m[1]!);
      const d = c.fleet.detail(name, now, c.stuckAfterMs);
      if (!d) throw new HttpError(404, `no cluster ${name}`);
      return this.json(res, 200, d);
    }
    if (path === "/api/v1/events") return this.stream(req, res, url);
    throw new HttpError(404, `no route for ${url.pathname}`);
  }

  /** Server-sent events: `summary` now and periodically, `cluster` on every change, heartbeats. */
  private stream(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const c = this.opts.controller;
    const filter = filterOf(url.searchParams);
    res.writeHead(200, {
      "Content-Type": "text/event-stream; charset=utf-8",
      "Cache-Control": "no-store",
      Connection: "keep-alive",
      "X-Accel-Buffering": "no",
    });
    res.flushHeaders();
    this.streams.add(res);
    let id = 0;
    const send = (event: string, data: unknown): void => {
      if (res.writableLength > MAX_BUFFERED) {
        this.log.warn("event stream: client too slow, dropped");
        res.destroy();
        return;
      }
      res.write(`id: ${++id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const summary = (): void =>
      send("summary", {
        ...c.summary(),
        leader: c.isLeader,
        generatedAt: new Date().toISOString(),
      });
    res.write("retry: 3000\n\n");
    summary();
    const unsubscribe = c.subscribe((change: FleetChange) => {
      if (change.type === "deleted") {
        if (!filter.name || change.name.includes(filter.name))
          send("deleted", { name: change.name });
      } else if (matchesFilter(change.cluster, filter)) send("cluster", change.cluster);
    });
    const token = tokenOf(req.headers);
    const summaryTimer = setInterval(() => {
      summary();
      // Access may have been revoked since the stream began (verdicts are cached for a minute).
      if (this.opts.authorizer)
        void this.opts.authorizer.check(token, READ_REPORTS).then(v => {
          if (v.status === 401 || v.status === 403) res.end();
        });
    }, this.opts.summaryIntervalMs ?? 10_000);
    const heartbeat = setInterval(
      () => res.write(": heartbeat\n\n"),
      this.opts.heartbeatMs ?? 15_000,
    );
    const done = (): void => {
      clearInterval(summaryTimer);
      clearInterval(heartbeat);
      unsubscribe();
      this.streams.delete(res);
    };
    res.once("close", done);
    req.once("close", done);
  }
}
