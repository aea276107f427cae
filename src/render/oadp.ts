// The OADP content a fleet ships to its spokes: bundled Backup/Restore pairs rendered from
// templates, and the user's own files, checked the way LCA checks them in Prep (only Velero
// Backups and Restores, every Restore naming a Backup, one Restore per Backup).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  FleetError,
  ProblemCollector,
  type FleetProblem,
  type PathSegment,
} from "../fleet/errors.js";
import type { Fleet } from "../fleet/model.js";
import { EncodingError, decodeUtf8 } from "../fleet/text.js";
import { readYaml } from "../fleet/yaml-source.js";
import { checkBackupRestoreFile, oadpDataKey } from "../fleet/oadp.js";
import type { KubeObject, TemplateSet } from "./templates.js";
import { stringifyYaml } from "./yaml.js";

/** ConfigMap data: one key per Backup/Restore file, as kustomize's configMapGenerator makes it. */
export type OadpData = Readonly<Record<string, string>>;

/**
 * The OADP ConfigMap's data. loadFleet has checked the user's files already; they are checked
 * again here because they are read again (a file may change between the two reads).
 * @throws FleetError when a file is no longer what LCA accepts
 */
export function oadpData(fleet: Fleet, templates: TemplateSet): OadpData {
  const data: Record<string, string> = {};
  const problems: Array<{ path: PathSegment[]; message: string }> = [];
  const { flavour } = fleet.spec;
  fleet.spec.oadp.content.forEach((entry, i) => {
    const key = oadpDataKey(entry, flavour);
    const problem = (message: string): void =>
      void problems.push({ path: ["spec", "oadp", "content", i, "file"], message });
    if (entry.template === "platform") {
      data[key] = toYaml(templates.render("PlatformBackupRestore", { ibgu: flavour === "ibgu" }));
    } else if (entry.template === "lvms") {
      data[key] = toYaml(templates.render("PlatformBackupRestoreLvms", {}));
    } else if (entry.file !== undefined) {
      let text: string;
      try {
        text = decodeUtf8(readFileSync(resolve(fleet.baseDir, entry.file)));
      } catch (err) {
        problem(
          err instanceof EncodingError
            ? err.in(entry.file)
            : `${entry.file}: cannot be read: ${(err as Error).message}`,
        );
        return;
      }
      const bad = checkBackupRestoreFile(text, entry.file);
      if (bad) problem(bad);
      if (key in data) problem(`a second file named ${key}`);
      data[key] = text.endsWith("\n") ? text : `${text}\n`;
    }
  });
  if (problems.length) throw new FleetError(located(fleet.file, problems));
  return data;
}

/** The problems at their lines in the fleet file, when it can still be read (else at 1:1). */
function located(
  file: string,
  problems: ReadonlyArray<{ path: PathSegment[]; message: string }>,
): FleetProblem[] {
  let out: ProblemCollector;
  try {
    out = readYaml(decodeUtf8(readFileSync(file)), file).out;
  } catch {
    out = new ProblemCollector(file);
  }
  for (const p of problems) out.add(p.path, p.message);
  return out.problems;
}

function toYaml(objects: readonly KubeObject[]): string {
  return objects.map(o => stringifyYaml(o)).join("---\n");
}
