// A rollout as a series of commits, on a sandbox hub: each commit writes the fleet file,
// synthesizes it with the generator, and syncs the output to the hub the way Argo CD's automated
// sync does (sync waves in order, objects the previous commit had and this one lacks pruned).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, parseAllDocuments, stringify } from "yaml";
import type { KubeApi, KubeObject } from "../../addon/shared/kube.js";
import { loadFleet } from "../fleet/load.js";
import { ibguChangeProblems, previousStages, synthFleet, type OutputFiles } from "../synth.js";

/** A fleet file's content, as a plain object (what `yaml` parses a fleet.yaml into). */
export type FleetDocument = Record<string, unknown> & { spec: Record<string, unknown> };

/** One commit: the fleet file it wrote, and what it synced. */
export interface Commit {
  readonly n: number;
  readonly message: string;
  readonly files: OutputFiles;
  readonly applied: readonly KubeObject[];
  readonly pruned: readonly KubeObject[];
}

const WAVE = "argocd.argoproj.io/sync-wave";

const wave = (o: KubeObject): number =>
  Number((o.metadata?.annotations as Record<string, string> | undefined)?.[WAVE] ?? 0);

const key = (o: KubeObject): string =>
  `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;

export class FleetCommits {
  private last: KubeObject[] = [];
  readonly log: Commit[] = [];

  /**
   * @param hub the hub's API (admin: the sync applies CRDs, RBAC and policies as Argo CD does)
   * @param dir where the fleet file (fleet.yaml) is written
   */
  constructor(
    private readonly hub: KubeApi,
    readonly dir: string,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  get fleetFile(): string {
    return join(this.dir, "fleet.yaml");
  }

  /**
   * Writes `fleet` as fleet.yaml, synthesizes it as `ibu-gitops synth` would (a fleet it
   * refuses, a stage move LCA would reject or an IBGU change TALM refuses, rejects with the problems), applies every object in sync-wave order and prunes what the previous commit had
   * and this one lacks, latest wave first. Rejects with every object the hub refused.
   */
  async commit(fleet: FleetDocument, message: string): Promise<Commit> {
    writeFileSync(this.fleetFile, stringify(fleet));
    // As `ibu-gitops synth` does: each group's stage move and each IBGU change is checked
    // against the last output.
    const before = this.log.at(-1)?.files;
    const loaded = loadFleet(
      this.fleetFile,
      before ? { previousStages: previousStages(before) } : {},
    );
    const files = synthFleet(loaded);
    const refused = before ? ibguChangeProblems(loaded, before, files) : [];
    if (refused.length)
      throw new Error(
        `commit "${message}": synth refuses:\n  ${refused.map(r => `${r.path.join(".")}: ${r.message}`).join("\n  ")}`,
      );
    const objects: KubeObject[] = [];
    // What Argo CD renders: the files the fleet folder's kustomization.yaml lists (argocd/ is
    // applied once by hand, outside the app).
    const kustomization = parse(files.get("kustomization.yaml") ?? "{}") as {
      resources?: string[];
    };
    for (const file of kustomization.resources ?? []) {
      const text = files.get(file);
      if (text === undefined)
        throw new Error(`kustomization.yaml lists ${file}, which synth did not write`);
      for (const d of parseAllDocuments(text)) {
        const o = d.toJS() as KubeObject | null;
        if (o) objects.push(o);
      }
    }
    objects.sort((a, b) => wave(a) - wave(b));
    const failures: string[] = [];
    for (const o of objects) {
      try {
        await this.hub.apply(o);
      } catch (err) {
        failures.push(`${o.kind} ${o.metadata?.name ?? ""}: ${(err as Error).message}`);
      }
    }
    if (failures.length)
      throw new Error(`commit "${message}": the hub refused:\n  ${failures.join("\n  ")}`);
    const now = new Set(objects.map(key));
    const pruned = this.last.filter(o => !now.has(key(o))).sort((a, b) => wave(b) - wave(a));
    for (const o of pruned) await this.hub.delete(await this.hub.pathOf(o));
    this.last = objects;
    const commit = { n: this.log.length + 1, message, files, applied: objects, pruned };
    this.log.push(commit);
    return commit;
  }
}
