// Where each generated object goes: every construct creates its objects through `emit`, which
// records the output file and the Argo CD sync wave. The synthesizer groups objects by file.
import { ApiObject, type ApiObjectMetadata } from "cdk8s";
import type { Construct } from "constructs";

/**
 * Argo CD sync waves. Argo CD applies a wave only once every resource of the earlier waves is
 * Healthy, and fails the sync when one is Degraded, but it never waits on the last wave: the
 * sync succeeds as soon as the last wave is applied (gitops-engine pkg/sync/sync_context.go:
 * running tasks are waited on only when the sync is `multiStep`, and the operation ends
 * "successfully synced (all tasks run)" once no task is left). So every object whose health
 * another controller decides — an ACM Policy (Degraded while NonCompliant, which our inform
 * stage policies are by design), a Deployment still rolling out, a CGU or IBGU — goes into
 * `assessed`, the last wave; the earlier waves hold only objects without a health assessment
 * (Namespaces, ConfigMaps, RBAC, Placements, addon configuration) or with one that needs no
 * other controller (a CRD is Healthy once the apiserver establishes it). docs/decisions.md.
 */
export const SyncWave = {
  namespaces: -20,
  config: -10,
  placement: 0,
  /** The last wave: Policies, CGUs, IBGUs, Deployments. Nothing may come after it. */
  assessed: 10,
} as const;

/**
 * Kinds Argo CD (v3.2–v3.5) assesses the health of, among those we emit: gitops-engine's
 * built-in checks (Deployment, Service, ...) and the resource_customizations shipped with Argo CD
 * (policy.open-cluster-management.io Policy). They must be in SyncWave.assessed.
 */
export const HEALTH_ASSESSED_KINDS: ReadonlySet<string> = new Set([
  "Policy",
  "Deployment",
  "StatefulSet",
  "DaemonSet",
  "ReplicaSet",
  "Pod",
  "Job",
  "Service",
  "PersistentVolumeClaim",
  "Ingress",
  "HorizontalPodAutoscaler",
  "APIService",
]);

export interface EmitOptions {
  /** Output file, relative to the fleet's output folder. */
  readonly file: string;
  /** Argo CD sync wave; omitted when undefined. */
  readonly wave?: number;
}

const files = new WeakMap<ApiObject, string>();

export interface ObjectBody {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ApiObjectMetadata & { readonly name: string };
  readonly [key: string]: unknown;
}

/** Creates an ApiObject for `body` and records its file and sync wave. */
export function emit(scope: Construct, id: string, body: ObjectBody, opts: EmitOptions): ApiObject {
  const annotations = {
    ...(body.metadata.annotations ?? {}),
    ...(opts.wave !== undefined ? { "argocd.argoproj.io/sync-wave": String(opts.wave) } : {}),
  };
  const metadata = {
    ...body.metadata,
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
  const obj = new ApiObject(scope, id, { ...body, metadata });
  files.set(obj, opts.file);
  return obj;
}

export function fileOf(obj: ApiObject): string | undefined {
  return files.get(obj);
}
