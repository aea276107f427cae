// A rollout as a series of commits, on a sandbox hub: each commit writes the fleet file and
// synthesizes it with the generator. With Argo CD (the default where the site runs it) the
// fleet file and `ibu-gitops synth`'s output are committed to a local Git repository and the
// real Argo CD syncs the generated Application; without it, the output is applied the way Argo
// CD's automated sync does (sync waves in order, what the previous commit had and this one
// lacks pruned).
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse, parseAllDocuments, stringify } from "yaml";
import type { KubeApi, KubeObject } from "../../addon/shared/kube.js";
import { runSynth } from "../cli/synth.js";
import { FleetError, formatProblem } from "../fleet/errors.js";
import { loadFleet } from "../fleet/load.js";
import {
  ibguChangeProblems,
  previousStages,
  readTree,
  synthFleet,
  type OutputFiles,
} from "../synth.js";
import type { Application, ArgoCd } from "./argocd.js";

const run = promisify(execFile);

/** A fleet file's content, as a plain object (what `yaml` parses a fleet.yaml into). */
export type FleetDocument = Record<string, unknown> & { spec: Record<string, unknown> };

/** One commit: the fleet file it wrote, and what it synced. */
export interface Commit {
  readonly n: number;
  readonly message: string;
  readonly files: OutputFiles;
  readonly applied: readonly KubeObject[];
  readonly pruned: readonly KubeObject[];
  /** The Git commit (Argo CD mode). */
  readonly sha?: string;
  /** The Application after Argo CD synced this commit (Argo CD mode). */
  readonly app?: Application;
  /** From the push to the end of Argo CD's sync of this commit, in ms (Argo CD mode). */
  readonly syncMs?: number;
}

/** Where the output is committed in the repository (`ibu-gitops synth --output-dir`). */
export const OUTPUT_DIR = "policies";

const WAVE = "argocd.argoproj.io/sync-wave";

const wave = (o: KubeObject): number =>
  Number((o.metadata?.annotations as Record<string, string> | undefined)?.[WAVE] ?? 0);

const key = (o: KubeObject): string =>
  `${o.apiVersion}/${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;

export class FleetCommits {
  private last: KubeObject[] = [];
  readonly log: Commit[] = [];
  private repoReady = false;

  /**
   * @param hub the hub's API (admin: the sync applies CRDs, RBAC and policies as Argo CD does;
   *   in Argo CD mode it writes only the Application and AppProject, once, as a user does)
   * @param dir the Git work tree: fleet.yaml and the output under policies/
   * @param argocd the real Argo CD to sync through; without it the output is applied directly
   */
  constructor(
    private readonly hub: KubeApi,
    readonly dir: string,
    private readonly argocd?: ArgoCd,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  get fleetFile(): string {
    return join(this.dir, "fleet.yaml");
  }

  /** The bare repository Argo CD reads (`repoURL`), beside the work tree. */
  get repoURL(): string {
    return `file://${this.dir}.git`;
  }

  /**
   * Commits `fleet`: writes it as fleet.yaml and synthesizes it as `ibu-gitops synth` would (a
   * fleet it refuses, a stage move LCA would reject or an IBGU change TALM refuses, rejects with
   * the problems). With Argo CD: points the fleet's `argocd.repoURL` at the sandbox repository,
   * runs synth and `synth --check` into policies/, commits, pushes, applies the generated
   * Application and AppProject on the first commit, and resolves when Argo CD has synced the
   * commit (rejects with what Argo CD reported otherwise). Without: applies every object in
   * sync-wave order and prunes what the previous commit had and this one lacks, latest wave
   * first; rejects with every object the hub refused.
   */
  async commit(fleet: FleetDocument, message: string): Promise<Commit> {
    return this.argocd ? this.commitToGit(fleet, message) : this.applyDirectly(fleet, message);
  }

  private async applyDirectly(fleet: FleetDocument, message: string): Promise<Commit> {
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
    const objects = rendered(files);
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
    const pruned = this.prunedBy(objects);
    for (const o of pruned) await this.hub.delete(await this.hub.pathOf(o));
    return this.record({ message, files, applied: objects, pruned });
  }

  private async commitToGit(fleet: FleetDocument, message: string): Promise<Commit> {
    const argocd = this.argocd!;
    await this.initRepo();
    const spec = fleet.spec;
    const doc: FleetDocument = {
      ...fleet,
      spec: {
        ...spec,
        argocd: {
          ...(spec.argocd as object | undefined),
          repoURL: this.repoURL,
          path: OUTPUT_DIR,
          targetRevision: "main",
        },
      },
    };
    writeFileSync(this.fleetFile, stringify(doc));
    const out = join(this.dir, OUTPUT_DIR);
    const args = { files: [this.fleetFile], out };
    try {
      runSynth({ ...args, check: false }, () => undefined);
      // What a CI job on the repository runs: the committed output is what the fleet gives.
      if (runSynth({ ...args, check: true }, () => undefined) !== 0)
        throw new Error("synth --check finds the output it just wrote stale");
    } catch (err) {
      if (err instanceof FleetError)
        throw new Error(
          `commit "${message}": synth refuses:\n  ${err.problems.map(p => formatProblem(p)).join("\n  ")}`,
        );
      throw err;
    }
    const name = (fleet.metadata as { name: string }).name;
    const files = readTree(join(out, name));
    await this.git("add", "-A");
    await this.git("commit", "-q", "--allow-empty", "-m", message);
    await this.git("push", "-q", "origin", "main");
    const sha = (await this.git("rev-parse", "HEAD")).trim();
    if (this.log.length === 0) {
      // Once, as the README tells a user: `oc apply -k policies/<fleet>/argocd`.
      for (const o of rendered(files, "argocd/kustomization.yaml")) await this.hub.apply(o);
    }
    const objects = rendered(files);
    const pruned = this.prunedBy(objects);
    const app = appName(files);
    const synced = await argocd.syncRevision(app, sha).catch((err: unknown) => {
      throw new Error(`commit "${message}": ${(err as Error).message}`, { cause: err });
    });
    return this.record({
      message,
      files,
      applied: objects,
      pruned,
      sha,
      app: synced.app,
      syncMs: synced.ms,
    });
  }

  private prunedBy(objects: readonly KubeObject[]): KubeObject[] {
    const now = new Set(objects.map(key));
    return this.last.filter(o => !now.has(key(o))).sort((a, b) => wave(b) - wave(a));
  }

  private record(c: Omit<Commit, "n">): Commit {
    this.last = [...c.applied];
    const commit = { n: this.log.length + 1, ...c };
    this.log.push(commit);
    return commit;
  }

  private async initRepo(): Promise<void> {
    if (this.repoReady) return;
    if (!existsSync(`${this.dir}.git`))
      await run("git", ["init", "-q", "--bare", "-b", "main", `${this.dir}.git`]);
    if (!existsSync(join(this.dir, ".git"))) {
      await this.git("init", "-q", "-b", "main");
      await this.git("remote", "add", "origin", `${this.dir}.git`);
    }
    this.repoReady = true;
  }

  /** Runs git in the work tree with a fixed identity (no global config on a fresh machine). */
  private async git(...args: string[]): Promise<string> {
    const { stdout } = await run(
      "git",
      [
        "-c",
        "user.name=ibu-gitops sandbox",
        "-c",
        "user.email=sandbox@ibu-gitops.invalid",
        ...args,
      ],
      { cwd: this.dir },
    );
    return stdout;
  }
}

/**
 * What Argo CD renders from a fleet folder: the files a kustomization lists (the top one by
 * default; argocd/ is not in it and is applied once by hand), in sync-wave order.
 */
function rendered(files: OutputFiles, kustomization = "kustomization.yaml"): KubeObject[] {
  const base = kustomization.includes("/") ? kustomization.replace(/[^/]*$/, "") : "";
  const k = parse(files.get(kustomization) ?? "{}") as { resources?: string[] };
  const objects: KubeObject[] = [];
  for (const file of k.resources ?? []) {
    const text = files.get(base + file);
    if (text === undefined)
      throw new Error(`${kustomization} lists ${file}, which synth did not write`);
    for (const d of parseAllDocuments(text)) {
      const o = d.toJS() as KubeObject | null;
      if (o) objects.push(o);
    }
  }
  return objects.sort((a, b) => wave(a) - wave(b));
}

/** The generated Application's name (argocd/argocd.yaml). */
function appName(files: OutputFiles): string {
  const app = rendered(files, "argocd/kustomization.yaml").find(o => o.kind === "Application");
  if (!app?.metadata?.name) throw new Error("synth wrote no Argo CD Application in argocd/");
  return app.metadata.name;
}
