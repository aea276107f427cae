// vitest global setup for integration tests: one shared control plane per test run (hub and
// two spokes, with every CRD installed), handed to test workers as plain data. Tests keep out
// of each other's way with unique namespaces and names; tests that must own a whole cluster
// start their own with ControlPlane.start().
import type { TestProject } from "vitest/node";
import { ControlPlane, type ControlPlaneInfo } from "./controlplane.js";
import { loadOwnCrds, loadThirdPartyCrds } from "./crds.js";

declare module "vitest" {
  export interface ProvidedContext {
    controlPlane: ControlPlaneInfo;
  }
}

export const SHARED_CLUSTERS = ["hub", "spoke-1", "spoke-2"] as const;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const log = (line: string): void => console.error(`[control plane] ${line}`);
  const [cp, thirdParty] = await Promise.all([
    ControlPlane.start({ clusters: SHARED_CLUSTERS, log }),
    loadThirdPartyCrds(),
  ]);
  try {
    const crds = [...thirdParty, ...loadOwnCrds()];
    await Promise.all(
      SHARED_CLUSTERS.map(name =>
        cp.cluster(name).installCrdSet(crds, name === "hub" ? "hub" : "spoke"),
      ),
    );
  } catch (err) {
    await cp.stop();
    throw err;
  }
  log(`shared control plane up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  project.provide("controlPlane", cp.info);
  const stop = (): void => void cp.stop();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  return async () => {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await cp.stop();
  };
}
