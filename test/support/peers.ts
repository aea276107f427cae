// Peers measured against our code in the same run: the real PolicyGenerator (the kustomize
// plugin ZTP uses), built with `go build` from its pinned Go module into the project cache.
import { join } from "node:path";
import {
  cacheRoot,
  ensureBuilt,
  recipeDigest,
  requiredVersion,
  type BuildStep,
} from "./controlplane-build.js";

const PG_MODULE = "open-cluster-management.io/policy-generator-plugin";

/** Path of the PolicyGenerator binary, building it on first use. */
export async function ensurePolicyGenerator(log?: (line: string) => void): Promise<string> {
  const version = requiredVersion("policygenerator", PG_MODULE);
  const recipe: BuildStep[] = [
    {
      wrapper: "policygenerator",
      out: "PolicyGenerator",
      args: ["-ldflags=-s -w", `${PG_MODULE}/cmd/PolicyGenerator`],
    },
  ];
  const dir = join(cacheRoot(), "peers", `policygenerator-${version}_${recipeDigest(recipe)}`);
  await ensureBuilt(dir, recipe, log);
  return join(dir, "PolicyGenerator");
}
