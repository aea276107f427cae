// The disk driver: how full the filesystem holding a path is, from statfs (as LCA measures
// the container-storage mount before Prep).
import { statfsSync } from "node:fs";

/** Percentage of the filesystem's blocks in use. */
export function usagePercent(path: string): number {
  const s = statfsSync(path);
  return s.blocks === 0 ? 0 : ((s.blocks - s.bfree) / s.blocks) * 100;
}
