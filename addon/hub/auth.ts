// Who may read the hub's API, decided by the hub's apiserver (the way kube-rbac-proxy does it):
// the caller's bearer token (or OpenShift oauth-proxy's X-Forwarded-Access-Token) goes through a
// TokenReview, the user it names through a SubjectAccessReview for the access the route needs.
// Verdicts, positive and negative, are cached for a minute keyed by a hash of the token; tokens
// are never logged or kept. The hub's own identity needs `create` on tokenreviews and
// subjectaccessreviews (the system:auth-delegator ClusterRole).
import { createHash } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";
import { ApiError, statusMessage, type KubeApi } from "../shared/kube.js";

export type Access =
  | { readonly verb: string; readonly group: string; readonly resource: string }
  | { readonly verb: string; readonly path: string };

/** list clusterupgrades.ibu-gitops.dev in all namespaces: the JSON API and the event stream. */
export const READ_REPORTS: Access = {
  verb: "list",
  group: "ibu-gitops.dev",
  resource: "clusterupgrades",
};
/** get on the non-resource URL /metrics, as Prometheus' ServiceAccount is granted. */
export const READ_METRICS: Access = { verb: "get", path: "/metrics" };

export interface Verdict {
  /** 200 allowed, 401 no or bad token, 403 not allowed, 503 the apiserver could not tell. */
  readonly status: 200 | 401 | 403 | 503;
  readonly user?: string;
  readonly reason: string;
}

interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

/** The caller's token: `Authorization: Bearer <t>`, else `X-Forwarded-Access-Token`. */
export function tokenOf(headers: IncomingHttpHeaders): string | undefined {
  const auth = headers.authorization;
  const m = auth ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  if (m) return m[1];
  const fwd = headers["x-forwarded-access-token"];
  const v = Array.isArray(fwd) ? fwd[0] : fwd;
  return v?.trim() || undefined;
}

export interface AuthorizerOptions {
  /** @default 60 s */
  readonly ttlMs?: number;
  /** Cache entries kept at most (oldest dropped first). @default 10000 */
  readonly maxEntries?: number;
  readonly log?: (line: string) => void;
}

export class Authorizer {
  private readonly cache = new Map<string, { verdict: Verdict; until: number }>();
  private readonly users = new Map<string, { user: UserInfo | null; until: number }>();
  private readonly inflight = new Map<string, Promise<Verdict>>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  /** TokenReviews and SubjectAccessReviews sent (for tests and benchmarks). */
  reviews = 0;

  constructor(
    private readonly api: KubeApi,
    opts: AuthorizerOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
  }

  /** The verdict for a request's token and the access its route needs. */
  async check(token: string | undefined, access: Access): Promise<Verdict> {
    if (!token) return { status: 401, reason: "no bearer token" };
    const hash = createHash("sha256").update(token).digest("hex");
    const key = `${hash}|${JSON.stringify(access)}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > Date.now()) return hit.verdict;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.review(token, hash, access).finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    const verdict = await p;
    if (verdict.status !== 503)
      this.remember(this.cache, key, { verdict, until: Date.now() + this.ttlMs });
    return verdict;
  }

  private remember<V>(m: Map<string, V>, key: string, v: V): void {
    m.delete(key);
    m.set(key, v);
    while (m.size > this.maxEntries) m.delete(m.keys().next().value!);
  }

  private async review(token: string, hash: string, access: Access): Promise<Verdict> {
    try {
      const user = await this.authenticate(token, hash);
      if (!user) return { status: 401, reason: "token not authenticated" };
      const allowed = await this.authorize(user, access);
      return allowed
        ? { status: 200, user: user.username, reason: "allowed" }
        : {
            status: 403,
            user: user.username,
            reason: `${user.username} may not ${describe(access)}`,
          };
    } catch (err) {
      return { status: 503, reason: `cannot review access: ${(err as Error).message}` };
    }
  }

  private async authenticate(token: string, hash: string): Promise<UserInfo | null> {
    const hit = this.users.get(hash);
    if (hit && hit.until > Date.now()) return hit.user;
    this.reviews++;
    const res = await this.api.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenReview",
      spec: { token },
    });
    if (res.status !== 201 && res.status !== 200)
      throw new ApiError(res.status, `TokenReview: ${statusMessage(res)}`);
    const status = (res.body as { status?: { authenticated?: boolean; user?: UserInfo } }).status;
    const user = status?.authenticated && status.user?.username ? status.user : null;
    this.remember(this.users, hash, { user, until: Date.now() + this.ttlMs });
    return user;
  }

  private async authorize(user: UserInfo, access: Access): Promise<boolean> {
    this.reviews++;
    const attrs =
      "path" in access
        ? { nonResourceAttributes: { verb: access.verb, path: access.path } }
        : {
            resourceAttributes: {
              verb: access.verb,
              group: access.group,
              resource: access.resource,
              namespace: "",
            },
          };
    const res = await this.api.request(
      "POST",
      "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: user.username,
          ...(user.uid ? { uid: user.uid } : {}),
          groups: user.groups ?? [],
          ...(user.extra ? { extra: user.extra } : {}),
          ...attrs,
        },
      },
    );
    if (res.status !== 201 && res.status !== 200)
      throw new ApiError(res.status, `SubjectAccessReview: ${statusMessage(res)}`);
    return (res.body as { status?: { allowed?: boolean } }).status?.allowed === true;
  }
}

function describe(a: Access): string {
  return "path" in a
    ? `${a.verb} ${a.path}`
    : `${a.verb} ${a.resource}.${a.group} in all namespaces`;
}
