// The hub dashboard's static files (docs/dashboard.md): index.html at `/`, app.js and app.css
// under `/static/`, read once at startup from addon/hub/dashboard/static/ under the package
// root (so the same path works from src/ through tsx and from the compiled dist/). The shell
// holds no fleet data, so it is served without authentication; the data comes from the
// authenticated JSON API and event stream. Every answer carries a strict Content-Security-Policy:
// scripts, styles and connections from this origin only, no inline code, no framing.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import { packageRoot } from "../../../src/package-root.js";
import type { HubServer, RouteHandler } from "../server.js";

export const DASHBOARD_DIR = join(packageRoot(), "addon", "hub", "dashboard", "static");

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
  "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Headers on every dashboard answer. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin",
};

interface Asset {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

/** URL path → file name and content type. */
const FILES: Readonly<Record<string, readonly [string, string]>> = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/static/app.js": ["app.js", "text/javascript; charset=utf-8"],
  "/static/app.css": ["app.css", "text/css; charset=utf-8"],
};

/** Reads the dashboard's files; throws, naming the folder, when one is missing. */
export function loadAssets(dir = DASHBOARD_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const [path, [file, type]] of Object.entries(FILES)) {
    let body: Buffer;
    try {
      body = readFileSync(join(dir, file));
    } catch (err) {
      throw new Error(
        `dashboard: cannot read ${file} in ${dir} (the image must contain addon/hub/dashboard/static/): ${(err as Error).message}`,
      );
    }
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    assets.set(path, { body, type, etag });
  }
  return assets;
}

/** The handler for `/` and `/static/...`: the known files, 404 for anything else. */
export function dashboardHandler(assets: Map<string, Asset> = loadAssets()): RouteHandler {
  return (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const asset = assets.get(url.pathname);
    if (!asset) {
      const text = JSON.stringify({ error: `no route for ${url.pathname}`, status: 404 });
      res.writeHead(404, {
        ...SECURITY_HEADERS,
        "Content-Type": "application/json",
        "Cache-Control": "no-store",
      });
      res.end(text);
      return;
    }
    const headers = {
      ...SECURITY_HEADERS,
      "Content-Type": asset.type,
      // Revalidate every time: a new hub version serves new files at the same URLs.
      "Cache-Control": "no-cache",
      ETag: asset.etag,
    };
    if (req.headers["if-none-match"] === asset.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, "Content-Length": asset.body.length });
    res.end(req.method === "HEAD" ? undefined : asset.body);
  };
}

/**
 * Mounts the dashboard on `server` at `/` and `/static/`, without authentication: the files
 * hold no fleet data (the API they call is authenticated).
 */
export function mountDashboard(server: HubServer, dir?: string): void {
  const handler = dashboardHandler(loadAssets(dir));
  server.mount("/static/", handler, null);
  server.mount("/", handler, null);
}
