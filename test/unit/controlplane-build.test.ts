// Bad setups of the control-plane build step get errors that say what to install or set.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  buildRecipe,
  cacheDirFor,
  ensureControlPlaneBinaries,
  readPins,
} from "../support/controlplane-build.js";
import { describeGoFailure, unservedModules } from "../support/go.js";

describe("the control-plane build step", () => {
  const saved = { ...process.env };
  let scratch: string;
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), "ibu-gitops-unit-"));
  });
  afterEach(() => {
    process.env = { ...saved };
    rmSync(scratch, { recursive: true, force: true });
  });

  it("reads the pinned Kubernetes and etcd versions from the wrapper modules", () => {
    const pins = readPins();
    expect(pins.kubernetes).toMatch(/^v1\.\d+\.\d+$/);
    expect(pins.etcd).toMatch(/^v3\.6\.\d+$/);
    expect(cacheDirFor(pins)).toContain(`k8s-${pins.kubernetes}_etcd-${pins.etcd}_${pins.digest}`);
  });

  it("stamps the Kubernetes version into the binaries, so clients see a semver server version", () => {
    const recipe = buildRecipe("v1.36.3", "v3.6.16");
    const apiserver = recipe.find(r => r.out === "kube-apiserver")!;
    expect(apiserver.args.join(" ")).toContain("k8s.io/component-base/version.gitVersion=v1.36.3");
    expect(apiserver.args.join(" ")).toContain("gitMinor=36");
  });

  it("says how to get Go when neither Go nor KUBEBUILDER_ASSETS is there", async () => {
    delete process.env.KUBEBUILDER_ASSETS;
    process.env.IBU_GITOPS_CACHE = scratch;
    process.env.PATH = "/nonexistent";
    await expect(ensureControlPlaneBinaries()).rejects.toThrow(
      /Go >= 1\.26 is not on PATH[\s\S]*KUBEBUILDER_ASSETS/,
    );
  });

  it("names the missing binaries when KUBEBUILDER_ASSETS lacks them", async () => {
    process.env.KUBEBUILDER_ASSETS = scratch;
    await expect(ensureControlPlaneBinaries()).rejects.toThrow(
      /lacks executable kube-apiserver, etcd, kubectl/,
    );
  });

  it("finds the module and version in Go's report of an unserved pin", () => {
    const stderr =
      "go: k8s.io/kubernetes@v1.99.0: reading https://proxy.example/k8s.io/kubernetes/@v/v1.99.0.info: 404 Not Found\n" +
      "go: example.com/x@v0.1.0: invalid version: unknown revision v0.1.0\n";
    expect(unservedModules(stderr)).toEqual(["k8s.io/kubernetes@v1.99.0", "example.com/x@v0.1.0"]);
    expect(describeGoFailure(["build"], "/w", stderr)).toMatch(
      /^the Go module proxy does not serve k8s\.io\/kubernetes@v1\.99\.0, example\.com\/x@v0\.1\.0/,
    );
  });
});
