// A small kubeconfig reader for the agent: the current context's server, CA and client
// credentials (certificate and key data or files, a token or token file). The agent runs on
// every cluster, and @kubernetes/client-node alone would double its memory; the hub, which
// runs once, may use client-node's KubeConfig (KubeApi takes either).
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";

export interface Credentials {
  readonly server: string;
  applyToHTTPSOptions(
    opts: Record<string, unknown> & { headers?: Record<string, string> },
  ): Promise<void>;
}

type Named<T> = Array<{ name: string } & T>;
interface KubeconfigFile {
  "current-context"?: string;
  contexts?: Named<{ context: { cluster: string; user: string } }>;
  clusters?: Named<{
    cluster: {
      server: string;
      "certificate-authority"?: string;
      "certificate-authority-data"?: string;
      "insecure-skip-tls-verify"?: boolean;
    };
  }>;
  users?: Named<{
    user: {
      "client-certificate"?: string;
      "client-certificate-data"?: string;
      "client-key"?: string;
      "client-key-data"?: string;
      token?: string;
      tokenFile?: string;
      "token-file"?: string;
    };
  }>;
}

/**
 * Reads a kubeconfig. Files it names are resolved against its folder and re-read on every
 * request, so rotated credentials (ACM rewrites the addon's hub kubeconfig) take effect.
 */
export function loadKubeconfig(file: string, context?: string): Credentials {
  const kc = parse(readFileSync(file, "utf8")) as KubeconfigFile;
  const ctxName = context ?? kc["current-context"];
  const ctx = kc.contexts?.find(c => c.name === ctxName)?.context;
  if (!ctx)
    throw new Error(
      context
        ? `kubeconfig ${file}: no context ${JSON.stringify(context)} (have: ${kubeconfigContexts(file).join(", ") || "none"})`
        : `kubeconfig ${file}: no current context`,
    );
  const cluster = kc.clusters?.find(c => c.name === ctx.cluster)?.cluster;
  const user = kc.users?.find(u => u.name === ctx.user)?.user ?? {};
  if (!cluster?.server)
    throw new Error(`kubeconfig ${file}: context ${ctxName} names no cluster with a server`);
  const path = (p: string): string => (isAbsolute(p) ? p : join(dirname(file), p));
  const material = (data: string | undefined, f: string | undefined): Buffer | undefined =>
    data ? Buffer.from(data, "base64") : f ? readFileSync(path(f)) : undefined;
  return {
    server: cluster.server,
    applyToHTTPSOptions(opts) {
      const ca = material(cluster["certificate-authority-data"], cluster["certificate-authority"]);
      const cert = material(user["client-certificate-data"], user["client-certificate"]);
      const key = material(user["client-key-data"], user["client-key"]);
      if (ca) opts.ca = ca;
      if (cert) opts.cert = cert;
      if (key) opts.key = key;
      if (cluster["insecure-skip-tls-verify"]) opts.rejectUnauthorized = false;
      const tokenFile = user.tokenFile ?? user["token-file"];
      const token =
        user.token ?? (tokenFile ? readFileSync(path(tokenFile), "utf8").trim() : undefined);
      if (token) opts.headers = { ...(opts.headers ?? {}), Authorization: `Bearer ${token}` };
      return Promise.resolve();
    },
  };
}

/** The names of a kubeconfig's contexts, in file order. */
export function kubeconfigContexts(file: string): string[] {
  const kc = parse(readFileSync(file, "utf8")) as KubeconfigFile;
  return (kc.contexts ?? []).map(c => c.name);
}

const SERVICE_ACCOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * In-cluster credentials of a pod's ServiceAccount: the API server from the environment, its
 * CA and the (rotating, so re-read per request) token from the mounted service account.
 */
export function inClusterCredentials(dir = SERVICE_ACCOUNT): Credentials {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host)
    throw new Error(
      "not running in a pod (KUBERNETES_SERVICE_HOST is unset): give a kubeconfig with --kubeconfig or KUBECONFIG",
    );
  return {
    server: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    applyToHTTPSOptions(opts) {
      opts.ca = readFileSync(join(dir, "ca.crt"));
      const token = readFileSync(join(dir, "token"), "utf8").trim();
      opts.headers = { ...(opts.headers ?? {}), Authorization: `Bearer ${token}` };
      return Promise.resolve();
    },
  };
}
