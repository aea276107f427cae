// Where each generated object goes: every construct creates its objects through `emit`, which
// records the output file and the Argo CD sync wave. The synthesizer groups objects by file.
import { ApiObject, type ApiObjectMetadata } from "cdk8s";
import type { Construct } from "constructs";

/** Argo CD sync waves: namespaces first, then configuration, policies, and upgrades last. */
export const SyncWave = {
  namespaces: -20,
  config: -10,
  policies: 0,
  upgrades: 10,
} as const;

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
