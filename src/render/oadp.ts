// The OADP content a fleet ships to its spokes: bundled Backup/Restore pairs rendered from
// templates, and the user's own files, checked the way LCA checks them in Prep (only Velero
// Backups and Restores, every Restore naming a Backup, one Restore per Backup).
import { readFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { FleetError, type FleetProblem } from "../fleet/errors.js";
import type { Fleet } from "../fleet/model.js";
import type { KubeObject, TemplateSet } from "./templates.js";

/** ConfigMap data: one key per Backup/Restore file, as kustomize's configMapGenerator makes it. */
export type OadpData = Readonly<Record<string, string>>;

export function oadpData(fleet: Fleet, templates: TemplateSet): OadpData {
  const data: Record<string, string> = {};
  const problems: FleetProblem[] = [];
  const ibgu = fleet.spec.flavour === "ibgu";
  fleet.spec.oadp.content.forEach((entry, i) => {
    const path = `spec.oadp.content[${i}]`;
    if (entry.template === "platform") {
      const key = ibgu ? "PlatformBackupRestoreWithIBGU.yaml" : "PlatformBackupRestore.yaml";
      data[key] = toYaml(templates.render("PlatformBackupRestore", { ibgu }));
    } else if (entry.template === "lvms") {
      data["PlatformBackupRestoreLvms.yaml"] = toYaml(
        templates.render("PlatformBackupRestoreLvms", {}),
      );
    } else if (entry.file !== undefined) {
      const file = resolve(fleet.baseDir, entry.file);
      const text = readFileSync(file, "utf8");
      const problem = checkBackupRestoreFile(text);
      if (problem)
        problems.push({
          file: fleet.file,
          path: `${path}.file`,
          line: 0,
          column: 0,
          message: `${entry.file}: ${problem}`,
        });
      const key = basename(file);
      if (key in data)
        problems.push({
          file: fleet.file,
          path: `${path}.file`,
          line: 0,
          column: 0,
          message: `a second file named ${key}`,
        });
      data[key] = text.endsWith("\n") ? text : `${text}\n`;
    }
  });
  if (problems.length) throw new FleetError(problems);
  return data;
}

function toYaml(objects: readonly KubeObject[]): string {
  return objects.map(o => stringify(o, { lineWidth: 0 })).join("---\n");
}

/** Why LCA would reject this file of OADP content, or undefined. */
export function checkBackupRestoreFile(text: string): string | undefined {
  const backups = new Set<string>();
  const restores: Array<{ name: string; backupName?: string }> = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) return `invalid YAML: ${doc.errors[0]?.message.split("\n")[0]}`;
    const obj = doc.toJS() as KubeObject | null;
    if (obj === null) continue;
    const id = `${obj.kind ?? "?"} ${obj.metadata?.name ?? "?"}`;
    if (obj.apiVersion !== "velero.io/v1" || !["Backup", "Restore"].includes(obj.kind)) {
      return `${id}: only velero.io/v1 Backup and Restore objects belong in OADP content`;
    }
    if (obj.kind === "Backup") backups.add(obj.metadata.name);
    else
      restores.push({
        name: obj.metadata.name,
        backupName: (obj.spec as { backupName?: string } | undefined)?.backupName,
      });
  }
  for (const r of restores) {
    if (!r.backupName) return `Restore ${r.name} has no spec.backupName`;
    if (!backups.has(r.backupName))
      return `Restore ${r.name} names Backup ${r.backupName}, which is not in the file`;
  }
  if (backups.size !== restores.length || backups.size === 0) {
    return `has ${backups.size} Backups and ${restores.length} Restores; LCA wants each Backup paired with one Restore`;
  }
  return undefined;
}
