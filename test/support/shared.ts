// Access to the shared control plane from inside a test file.
import { inject } from "vitest";
import { TestCluster } from "./cluster.js";

/** A cluster of the run's shared control plane: "hub", "spoke-1" or "spoke-2". */
export function sharedCluster(name: string): TestCluster {
  const info = inject("controlPlane").clusters.find(c => c.name === name);
  if (!info) throw new Error(`the shared control plane has no cluster ${name}`);
  return new TestCluster(info);
}

let counter = 0;
/** A DNS-label name unique to this test run and worker, for namespaces and objects. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid.toString(36)}-${counter.toString(36)}-${Date.now().toString(36).slice(-4)}`;
}
