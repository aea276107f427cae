// The hub stack's build step: pins read from the wrapper modules, a cache key that follows
// them, and errors that say what is missing.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  HUB_STACK_PARTS,
  ensureHubStackBinaries,
  hubStackCacheDir,
  hubStackPins,
  hubStackRecipe,
} from "../../src/sandbox/hubstack-build.js";
import { WRAPPERS, recipeDigest } from "../../src/sandbox/controlplane-build.js";

describe("the hub-stack build step", () => {
  const saved = { ...process.env };
  let scratch: string;
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), "ibu-gitops-unit-"));
  });
  afterEach(() => {
    process.env = { ...saved };
    rmSync(scratch, { recursive: true, force: true });
  });

  it("pins every controller's module at a version in its wrapper's go.mod", () => {
    const pins = hubStackPins();
    for (const part of HUB_STACK_PARTS)
      expect(pins.some(p => p.startsWith(`${part.module}@v`))).toBe(true);
    expect(pins).toContain("open-cluster-management.io/ocm@v1.2.1");
  });

  it("builds each binary once, from a package of its pinned module", () => {
    const recipe = hubStackRecipe();
    expect(new Set(recipe.map(r => r.out)).size).toBe(recipe.length);
    for (const step of recipe) {
      const part = HUB_STACK_PARTS.find(p => p.out === step.out)!;
      if (step.args.at(-1) === ".") {
        // The wrapper's own main: it must run the pinned module's package.
        const main = readFileSync(join(WRAPPERS, part.wrapper, "main.go"), "utf8");
        expect(main).toContain(`"${part.module}/`);
      } else expect(step.args.at(-1)?.startsWith(part.module)).toBe(true);
    }
  });

  it("stamps Argo CD with the version its wrapper pins, as upstream's Makefile does", () => {
    const step = hubStackRecipe().find(r => r.out === "argocd")!;
    const pinned = hubStackPins().find(p => p.startsWith("github.com/argoproj/argo-cd/v3@"))!;
    const version = pinned.split("@v")[1]!;
    expect(step.args[0]).toContain(`-X github.com/argoproj/argo-cd/v3/common.version=${version}`);
    expect(step.args[0]).toContain(`common.gitTag=v${version}`);
  });

  it("keys the cache on a wrapper's own Go files too", () => {
    const wrappers = join(scratch, "go");
    mkdirSync(join(wrappers, "w"), { recursive: true });
    writeFileSync(join(wrappers, "w", "go.mod"), "module x\n");
    writeFileSync(join(wrappers, "w", "go.sum"), "");
    const recipe = [{ wrapper: "w", out: "x", args: ["."] }];
    const before = recipeDigest(recipe, wrappers);
    writeFileSync(join(wrappers, "w", "main.go"), "package main\n");
    const withMain = recipeDigest(recipe, wrappers);
    expect(withMain).not.toBe(before);
    writeFileSync(join(wrappers, "w", "main.go"), "package main\n\nfunc main() {}\n");
    expect(recipeDigest(recipe, wrappers)).not.toBe(withMain);
  });

  it("keys the cache on the recipe: a changed flag is another folder", () => {
    process.env.IBU_GITOPS_CACHE = scratch;
    const dir = hubStackCacheDir();
    expect(dir.startsWith(join(scratch, "hubstack"))).toBe(true);
    expect(hubStackCacheDir()).toBe(dir);
  });

  it("names the missing binaries when IBU_GITOPS_HUBSTACK_BIN lacks some", async () => {
    process.env.IBU_GITOPS_HUBSTACK_BIN = scratch;
    writeFileSync(join(scratch, "talm"), "#!/bin/sh\n");
    chmodSync(join(scratch, "talm"), 0o755);
    const err = await ensureHubStackBinaries().catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/lacks executable governance-policy-propagator/);
    expect((err as Error).message).not.toMatch(/lacks executable[^;]*\btalm\b/);
    expect((err as Error).message).toMatch(/npm run hubstack/);
  });

  it("uses IBU_GITOPS_HUBSTACK_BIN when it holds every binary", async () => {
    process.env.IBU_GITOPS_HUBSTACK_BIN = scratch;
    for (const p of HUB_STACK_PARTS) {
      writeFileSync(join(scratch, p.out), "#!/bin/sh\n");
      chmodSync(join(scratch, p.out), 0o755);
    }
    const b = await ensureHubStackBinaries();
    expect(b.source).toBe("IBU_GITOPS_HUBSTACK_BIN");
    expect(b.path("talm")).toBe(join(scratch, "talm"));
  });
});
