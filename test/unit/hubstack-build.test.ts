// The hub stack's build step: pins read from the wrapper modules, a cache key that follows
// them, and errors that say what is missing.
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
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
      expect(step.args.at(-1)?.startsWith(part.module)).toBe(true);
    }
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
