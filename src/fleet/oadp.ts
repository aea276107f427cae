// The rules on a fleet's OADP content that validate and synth share: which ConfigMap key each
// entry becomes, and LCA's checks of a user's Backup/Restore file (as LCA runs them in Prep).
import { basename } from "node:path";
import { LineCounter, parseAllDocuments, type Document } from "yaml";
import { ProblemCollector, clip, show, type PathSegment } from "./errors.js";
import { dnsSubdomainProblem } from "./names.js";
import type { OadpContentEntry } from "./model.js";
import { APPLY_WAVE, goAtoi } from "../../api/lca.js";

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
 * (LCA's `Both backup and restore CRs should be specified ... paired`), apply-waves LCA can read.
 * The message starts with `shown` (the file as the fleet names it), and its line and column
 * where the problem has one: `oadp/app.yaml:25:34: Restore app: ...`. Never throws.
 */
export function checkBackupRestoreFile(text: string, shown: string): string | undefined {
  const p = backupRestoreProblem(text);
  if (!p) return undefined;
  return typeof p === "string" ? `${shown}: ${p}` : `${shown}:${p.line}:${p.col}: ${p.message}`;
}

type Located = { line: number; col: number; message: string };

/** `message` at the start of the entry at `path` in `doc`, as every fleet problem is located. */
function locate(
  doc: Document,
  lines: LineCounter,
  path: readonly PathSegment[],
  message: string,
): Located {
  const out = new ProblemCollector("", doc, lines);
  out.add(path, message);
  const p = out.problems[0]!;
  return { line: p.line, col: p.column, message };
}

function backupRestoreProblem(text: string): string | Located | undefined {
  const backups = new Set<string>();
  const restores: Restore[] = [];
  const lines = new LineCounter();
  const objects = readObjects(text, lines);
  if (typeof objects !== "object" || !Array.isArray(objects)) return objects;
  for (const { obj, doc } of objects) {
    const at = (path: PathSegment[], message: string): Located => locate(doc, lines, path, message);
    const problem = objectProblem(obj, at, backups, restores) ?? applyWaveProblem(obj, at);
    if (problem) return problem;
  }
  return pairingProblem(backups, restores);
}

type At = (path: PathSegment[], message: string) => Located;
type Restore = { name: string; backupName?: unknown; at: At };

/** LCA's annotation that orders Backups and Restores (and extra manifests) in groups. */
export const APPLY_WAVE_ANNOTATION = APPLY_WAVE;

/**
 * Why LCA would refuse this apply-wave, or undefined. LCA reads it with Go's strconv.Atoi
 * (internal/common/manifest_helpers.go SortAndGroupByApplyWave): an optional sign and decimal
 * digits, nothing else, within a 64-bit int; an empty value counts as absent (applied last, as
 * MaxInt32). A value that is not a string cannot be read into metadata.annotations at all.
 */
function applyWaveProblem(obj: unknown, at: At): Located | undefined {
  const md = (obj as { metadata?: { annotations?: unknown } }).metadata;
  const ann = md?.annotations;
  if (typeof ann !== "object" || ann === null || !(APPLY_WAVE_ANNOTATION in ann)) return undefined;
  const wave = (ann as Record<string, unknown>)[APPLY_WAVE_ANNOTATION];
  const problem = waveProblem(wave);
  if (!problem) return undefined;
  const o = obj as { kind?: unknown; metadata?: { name?: unknown } };
  const id = `${typeof o.kind === "string" ? clip(o.kind) : "?"} ${typeof o.metadata?.name === "string" ? clip(o.metadata.name) : "?"}`;
  return at(
    ["metadata", "annotations", APPLY_WAVE_ANNOTATION],
    `${id}: metadata.annotations.${APPLY_WAVE_ANNOTATION}: ${problem}`,
  );
}

function waveProblem(wave: unknown): string | undefined {
  if (typeof wave !== "string")
    return `must be a quoted string such as "3", not ${show(wave)} (annotations are strings)`;
  if (wave === "" || goAtoi(wave).error === undefined) return undefined;
  return `${show(wave)} is not an integer; LCA reads it with strconv.Atoi and fails Prep (write digits only, e.g. "3")`;
}

/** The documents of a YAML stream as plain data with their documents, or why they cannot be read. */
function readObjects(
  text: string,
  lineCounter: LineCounter,
): Array<{ obj: unknown; doc: Document }> | string | Located {
  let docs;
  try {
    docs = parseAllDocuments(text, { lineCounter });
  } catch (err) {
    return `invalid YAML: ${(err as Error).message.split("\n")[0] ?? ""}`;
  }
  if (!Array.isArray(docs)) return "invalid YAML: not a stream of documents";
  const objects: Array<{ obj: unknown; doc: Document }> = [];
  for (const doc of docs) {
    const e = doc.errors[0];
    if (e) {
      const at = e.linePos?.[0];
      const message = `invalid YAML: ${e.message.split("\n")[0] ?? ""}`;
      return at ? { line: at.line, col: at.col, message } : message;
    }
    try {
      const obj: unknown = doc.toJS({ maxAliasCount: 100 });
      if (obj !== null && obj !== undefined) objects.push({ obj, doc });
    } catch (err) {
      return `cannot be read: ${(err as Error).message}`;
    }
  }
  return objects;
}

function pairingProblem(
  backups: ReadonlySet<string>,
  restores: readonly Restore[],
): string | Located | undefined {
  for (const r of restores) {
    if (typeof r.backupName !== "string" || !r.backupName)
      return r.at(["spec", "backupName"], `Restore ${clip(r.name)} has no spec.backupName`);
    if (!backups.has(r.backupName))
      return r.at(
        ["spec", "backupName"],
        `Restore ${clip(r.name)} names Backup ${show(r.backupName)}, which is not in the file`,
      );
  }
  if (backups.size !== restores.length || backups.size === 0) {
    return `has ${backups.size} Backups and ${restores.length} Restores; LCA wants each Backup paired with one Restore`;
  }
  return undefined;
}

function objectProblem(
  obj: unknown,
  at: At,
  backups: Set<string>,
  restores: Restore[],
): Located | undefined {
  if (typeof obj !== "object" || Array.isArray(obj) || obj === null)
    return at(
      [],
      `a document is not a mapping: only velero.io/v1 Backup and Restore objects belong in OADP content`,
    );
  const o = obj as { apiVersion?: unknown; kind?: unknown; metadata?: unknown; spec?: unknown };
  const md = (typeof o.metadata === "object" && o.metadata !== null ? o.metadata : {}) as {
    name?: unknown;
  };
  const kind = typeof o.kind === "string" ? clip(o.kind) : "?";
  const name = typeof md.name === "string" ? md.name : undefined;
  const id = `${kind} ${name === undefined ? "?" : clip(name)}`;
  if (o.apiVersion !== "velero.io/v1")
    return at(
      ["apiVersion"],
      `${id}: only velero.io/v1 Backup and Restore objects belong in OADP content`,
    );
  if (o.kind !== "Backup" && o.kind !== "Restore")
    return at(
      ["kind"],
      `${id}: only velero.io/v1 Backup and Restore objects belong in OADP content`,
    );
  if (name === undefined) return at(["metadata", "name"], `${id} has no metadata.name`);
  const nameProblem = dnsSubdomainProblem(name);
  if (nameProblem) return at(["metadata", "name"], `${id}: ${nameProblem}`);
  if (o.kind === "Backup") {
    if (backups.has(name)) return at(["metadata", "name"], `Backup ${clip(name)} is defined twice`);
    backups.add(name);
  } else {
    const spec = (typeof o.spec === "object" && o.spec !== null ? o.spec : {}) as {
      backupName?: unknown;
    };
    restores.push({ name, backupName: spec.backupName, at });
  }
  return undefined;
}
