// The synthetic fleets the benchmarks in test/bench/ share: N clusters in G groups, as explicit
// cluster lists (one canary each) or as label selectors, with both bundled OADP templates.
import { stringify } from "yaml";

export interface BenchFleet {
  readonly clusters: number;
  readonly groups: number;
  readonly mode: "lists" | "selectors";
}

/** The fleets of test/bench/synth.ts: 100, 1,000 and 3,500 clusters in 1, 10 and 50 groups. */
export const BENCH_FLEETS: readonly BenchFleet[] = [100, 1000, 3500].flatMap(clusters =>
  [1, 10, 50].flatMap(groups =>
    (["lists", "selectors"] as const).map(mode => ({ clusters, groups, mode })),
  ),
);

/** The fleet file's text; groups cycle through Prep, Upgrade and Finalize. */
export function benchFleetYaml(c: BenchFleet): string {
  const per = Math.ceil(c.clusters / c.groups);
  const stages = ["Prep", "Upgrade", "Finalize"];
  const groups = Array.from({ length: c.groups }, (_, g) => {
    const base = { name: `g${String(g).padStart(3, "0")}`, stage: stages[g % 3] };
    if (c.mode === "selectors")
      return { ...base, selector: { matchLabels: { "ibu-group": base.name } } };
    const clusters = Array.from(
      { length: Math.min(per, c.clusters - g * per) },
      (_, i) => `sno-${String(g * per + i).padStart(5, "0")}`,
    );
    return { ...base, clusters, canaries: clusters.slice(0, 1) };
  });
  return stringify({
    apiVersion: "ibu-gitops.dev/v1alpha1",
    kind: "Fleet",
    metadata: { name: "bench" },
    spec: {
      clusterSelector: { matchExpressions: [{ key: "group-du-sno", operator: "Exists" }] },
      seedImage: {
        image: "quay.example.com/seeds/sno-seed:4.18.1",
        version: "4.18.1",
        pullSecretRef: { name: "seed-pull-secret" },
      },
      oadp: { content: [{ template: "platform" }, { template: "lvms" }] },
      groups,
    },
  });
}
