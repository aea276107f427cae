// The rules on a fleet's OADP content that validate and synth share: which ConfigMap key each
// entry becomes, and LCA's checks of a user's Backup/Restore file (as LCA runs them in Prep).
import { basename } from "node:path";
import { parseAllDocuments } from "yaml";
import { clip, show } from "./errors.js";
import { dnsSubdomainProblem } from "./names.js";
import type { OadpContentEntry } from "./model.js";

/** The ConfigMap data key of an entry, as kustomize's configMapGenerator names it. */
export function oadpDataKey(entry: OadpContentEntry, flavour: "cgu" | "ibgu"): string {
  if (entry.template === "platform")
    return flavour === "ibgu" ? "PlatformBackupRestoreWithIBGU.yaml" : "PlatformBackupRestore.yaml";
  if (entry.template === "lvms") return "PlatformBackupRestoreLvms.yaml";
  return basename(entry.file ?? "");
}

/** The apiserver's rule for ConfigMap keys (IsConfigMapKey). */
export function configMapKeyProblem(key: string): string | undefined {
  return key.length <= 253 && /^[-._a-zA-Z0-9]+$/.test(key) && key !== "." && key !== ".."
    ? undefined
    : `${show(key)} cannot be a ConfigMap key (at most 253 letters, digits, '-', '_' and '.'; rename the file)`;
}

/**
 * A ConfigMap holds at most 1 MiB of data (the apiserver's limit); the OADP ConfigMap also gets
 * the bundled templates, so a user's files get a little less.
 */
export const MAX_OADP_FILE_BYTES = 900 * 1024;

/**
 * Why LCA would reject this file of OADP content, or undefined: only velero.io/v1 Backups and
 * Restores, each with a name, every Restore naming a Backup of the file, one Restore per Backup
 * (LCA's `Both backup and restore CRs should be specified ... paired`). Never throws.
 */
export function checkBackupRestoreFile(text: string): string | undefined {
  const backups = new Set<string>();
  const restores: Restore[] = [];
  const objects = readObjects(text);
  if (typeof objects === "string") return objects;
  for (const obj of objects) {
    const problem = objectProblem(obj, backups, restores);
    if (problem) return problem;
  }
  return pairingProblem(backups, restores);
}

type Restore = { name: string; backupName?: unknown };

/** The documents of a YAML stream as plain data, or why they cannot be read. */
function readObjects(text: string): unknown[] | string {
  let docs;
  try {
    docs = parseAllDocuments(text);
  } catch (err) {
    return `invalid YAML: ${(err as Error).message.split("\n")[0] ?? ""}`;
  }
  if (!Array.isArray(docs)) return "invalid YAML: not a stream of documents";
  const objects: unknown[] = [];
  for (const doc of docs) {
    const e = doc.errors[0];
    if (e)
      return `invalid YAML at line ${e.linePos?.[0]?.line ?? "?"}: ${e.message.split("\n")[0] ?? ""}`;
    try {
      const obj: unknown = doc.toJS({ maxAliasCount: 100 });
      if (obj !== null && obj !== undefined) objects.push(obj);
    } catch (err) {
      return `cannot be read: ${(err as Error).message}`;
    }
  }
  return objects;
}

function pairingProblem(
  backups: ReadonlySet<string>,
  restores: readonly Restore[],
): string | undefined {
  for (const r of restores) {
    if (typeof r.backupName !== "string" || !r.backupName)
      return `Restore ${clip(r.name)} has no spec.backupName`;
    if (!backups.has(r.backupName))
      return `Restore ${clip(r.name)} names Backup ${show(r.backupName)}, which is not in the file`;
  }
  if (backups.size !== restores.length || backups.size === 0) {
    return `has ${backups.size} Backups and ${restores.length} Restores; LCA wants each Backup paired with one Restore`;
  }
  return undefined;
}

function objectProblem(
  obj: unknown,
  backups: Set<string>,
  restores: Restore[],
): string | undefined {
  if (typeof obj !== "object" || Array.isArray(obj) || obj === null)
    return `a document is not a mapping: only velero.io/v1 Backup and Restore objects belong in OADP content`;
  const o = obj as { apiVersion?: unknown; kind?: unknown; metadata?: unknown; spec?: unknown };
  const md = (typeof o.metadata === "object" && o.metadata !== null ? o.metadata : {}) as {
    name?: unknown;
  };
  const kind = typeof o.kind === "string" ? clip(o.kind) : "?";
  const name = typeof md.name === "string" ? md.name : undefined;
  const id = `${kind} ${name === undefined ? "?" : clip(name)}`;
  if (o.apiVersion !== "velero.io/v1" || (o.kind !== "Backup" && o.kind !== "Restore"))
    return `${id}: only velero.io/v1 Backup and Restore objects belong in OADP content`;
  if (name === undefined) return `${id} has no metadata.name`;
  const nameProblem = dnsSubdomainProblem(name);
  if (nameProblem) return `${id}: ${nameProblem}`;
  if (o.kind === "Backup") {
    if (backups.has(name)) return `Backup ${clip(name)} is defined twice`;
    backups.add(name);
  } else {
    const spec = (typeof o.spec === "object" && o.spec !== null ? o.spec : {}) as {
      backupName?: unknown;
    };
    restores.push({ name, backupName: spec.backupName });
  }
  return undefined;
}
