// How LCA applies an extra or policy manifest after the pivot (and dry-runs it during Prep):
// create it when it does not exist; otherwise replace it, or, with the annotation
// `lca.openshift.io/apply-type: merge`, merge it into the existing object the way an ACM
// ConfigurationPolicy with complianceType mustHave does.
import type { ApiResponse, KubeApi, KubeObject } from "../../shared/kube.js";
import { ApiError } from "../../shared/kube.js";

export const APPLY_TYPE = "lca.openshift.io/apply-type";

export type ApplyProblem =
  | { kind: "unserved"; message: string }
  | { kind: "invalid" | "other"; message: string }
  | undefined;

/** The message of an API answer, as a Go client's error reads. */
export function messageOf(res: ApiResponse): string {
  return (res.body as { message?: string } | undefined)?.message ?? `HTTP ${res.status}`;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

const isObject = (v: unknown): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * mustHave merge: the template's fields win, fields only the existing object has are kept. Two
 * non-empty lists merge item by item: an existing item is matched with a template item of the
 * same `name` or one it already contains (the pair merged); an unmatched existing item is kept
 * after the template's items.
 */
export function mergeMustHave(template: unknown, existing: unknown): unknown {
  if (isObject(template)) {
    if (!isObject(existing)) return template;
    const out: JsonObject = { ...template };
    for (const [k, v] of Object.entries(existing))
      out[k] = k in template ? (mergeMustHave(template[k], v) as Json) : v;
    return out;
  }
  if (Array.isArray(template)) {
    if (!Array.isArray(existing) || !existing.length) return template;
    const out: unknown[] = template.slice();
    const used = new Set<number>();
    for (const e of existing) {
      const i = template.findIndex(
        (t, idx) =>
          !used.has(idx) &&
          ((isObject(t) &&
            isObject(e) &&
            typeof e.name === "string" &&
            e.name !== "" &&
            t.name === e.name) ||
            contains(e, t)),
      );
      if (i >= 0) {
        used.add(i);
        out[i] = mergeMustHave(template[i], e);
      } else out.push(e);
    }
    return out;
  }
  if (template === null && isObject(existing)) return existing;
  return template;
}

/** Whether `whole` has everything `part` has (objects by key, lists item by item, scalars equal). */
function contains(whole: unknown, part: unknown): boolean {
  if (isObject(part))
    return isObject(whole) && Object.entries(part).every(([k, v]) => contains(whole[k], v));
  if (Array.isArray(part))
    return (
      Array.isArray(whole) &&
      whole.length === part.length &&
      part.every((p, i) => contains(whole[i], p))
    );
  return whole === part;
}

const ok = (res: ApiResponse): boolean => res.status === 200 || res.status === 201;

/**
 * Applies one manifest (or, with `dryRun`, tries it with `?dryRun=All`): LCA's
 * ApplyExtraManifest. Returns undefined on success; a kind the cluster does not serve, an
 * object the API finds invalid (400/422), or another error, each with LCA's message.
 */
export async function applyManifest(
  api: KubeApi,
  manifest: KubeObject,
  opts: {
    /** Try it with `?dryRun=All`: nothing is stored. */
    readonly dryRun?: boolean;
    /**
     * Update an existing object with a JSON merge patch of the manifest (maps merged, lists
     * replaced), as `oc apply` sets what it names on an object it did not create.
     */
    readonly mergePatch?: boolean;
  } = {},
): Promise<ApplyProblem> {
  // The server's fields of a copied object would make a create fail; LCA drops them too.
  const metadata = { ...manifest.metadata };
  delete metadata.resourceVersion;
  delete metadata.uid;
  manifest = { ...manifest, metadata };
  let path: string;
  try {
    path = await api.pathOf(manifest);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404)
      return {
        kind: "unserved",
        message: `failed to get RESTMapping: no matches for kind "${manifest.kind}" in version "${manifest.apiVersion}"`,
      };
    throw err;
  }
  const q = opts.dryRun ? "?dryRun=All" : "";
  const existing = await api.get<KubeObject>(path);
  const [verb, res] = existing
    ? opts.mergePatch
      ? ([
          "patch",
          await api.request("PATCH", `${path}${q}`, manifest, "application/merge-patch+json"),
        ] as const)
      : await update(api, `${path}${q}`, manifest, existing)
    : ["create", await api.request("POST", `${await api.pathOf(manifest, true)}${q}`, manifest)];
  if (ok(res)) return undefined;
  const message = `failed to ${verb} manifest ${manifest.kind} called ${manifest.metadata?.name ?? ""}: ${messageOf(res)}`;
  if (res.status === 422 || res.status === 400) return { kind: "invalid", message };
  return { kind: "other", message };
}

/** Replaces the existing object, or merges into it with apply-type merge: the verb and the answer. */
async function update(
  api: KubeApi,
  path: string,
  manifest: KubeObject,
  existing: KubeObject,
): Promise<[string, ApiResponse]> {
  const annotations = { ...(manifest.metadata?.annotations as Record<string, string>) };
  const merge = annotations[APPLY_TYPE] === "merge";
  delete annotations[APPLY_TYPE]; // it says how to apply, not what to keep
  const metadata: NonNullable<KubeObject["metadata"]> = { ...manifest.metadata, annotations };
  if (!Object.keys(annotations).length) delete metadata.annotations;
  const desired = { ...manifest, metadata };
  const body = (merge ? mergeMustHave(desired, existing) : desired) as KubeObject;
  const res = await api.request("PUT", path, {
    ...body,
    metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion },
  });
  return [merge ? "update" : "replace", res];
}
