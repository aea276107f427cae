// The Grafana dashboard and ACM metrics allowlist the generator emits: valid JSON with a stable
// uid, every PromQL expression naming only series the hub controller exports, the allowlist
// covering each of them, and the ConfigMaps where ACM's loader looks for them.
// (Page callbacks run in the browser and are typed without the DOM library: what they return is any.)
/* eslint-disable @typescript-eslint/no-unsafe-return */
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { HUB_METRICS } from "../../api/metrics.js";
import {
  ALLOWLIST_CONFIGMAP,
  DASHBOARD_KEY,
  DASHBOARD_UID,
  OBSERVABILITY_NAMESPACE,
  grafanaDashboard,
  hubSeries,
  metricsAllowlist,
} from "../../src/constructs/grafana.js";
import { parseFleet } from "../../src/fleet/load.js";
import { synthFleet } from "../../src/synth.js";

/** PromQL words that are not metric names: functions, aggregations, modifiers. */
const PROMQL_WORDS = new Set([
  "sum",
  "max",
  "min",
  "avg",
  "count",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "rate",
  "irate",
  "increase",
  "histogram_quantile",
  "label_values",
  "and",
  "or",
  "unless",
  "offset",
]);

/** The metric names an expression selects: what is left after strings, matchers, ranges, grouping. */
function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, " ");
  return (bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? []).filter(w => !PROMQL_WORDS.has(w));
}

const hubMetrics = Object.values(HUB_METRICS);

describe("the Grafana dashboard", () => {
  const dash = grafanaDashboard();
  const exported = new Set(hubSeries());
  const exprs = dash.panels.flatMap(p => p.targets.map(t => t.expr));

  it("is JSON with a stable uid, deterministic, with unique panel ids that fit the grid", () => {
    const text = JSON.stringify(dash);
    expect(JSON.parse(text)).toEqual(dash);
    expect(dash.uid).toBe("ibu-gitops-hub");
    expect(DASHBOARD_UID).toBe("ibu-gitops-hub");
    expect(JSON.stringify(grafanaDashboard())).toBe(text);
    const ids = dash.panels.map(p => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dash.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(p.targets.length, p.title).toBeGreaterThan(0);
    }
  });

  it("names only metrics the hub controller exports in every panel query", () => {
    expect(metricNames('sum by (le) (rate(a_bucket{x="}"}[5m])) / b')).toEqual(["a_bucket", "b"]);
    for (const e of exprs) {
      const names = metricNames(e);
      expect(names.length, e).toBeGreaterThan(0);
      for (const n of names) expect(exported, `${n} in ${e}`).toContain(n);
    }
  });

  it("covers every metric the hub exports, histograms through histogram_quantile", () => {
    const used = new Set(exprs.flatMap(metricNames));
    for (const m of hubMetrics) {
      const series = m.type === "histogram" ? `${m.name}_bucket` : m.name;
      expect(used, m.name).toContain(series);
    }
    for (const m of hubMetrics.filter(x => x.type === "histogram"))
      expect(exprs.some(e => e.includes(`histogram_quantile(0.95`) && e.includes(m.name))).toBe(
        true,
      );
  });

  it("lets every series it uses through ACM's allowlist", () => {
    const allowed = new Set(metricsAllowlist().names);
    for (const n of exprs.flatMap(metricNames)) expect(allowed, n).toContain(n);
    for (const m of hubMetrics.filter(x => x.type === "histogram"))
      for (const suffix of ["_bucket", "_sum", "_count"])
        expect(allowed).toContain(m.name + suffix);
  });
});

describe("the observability ConfigMaps in the addon output", () => {
  const files = synthFleet(
    parseFleet(
      `apiVersion: ibu-gitops.dev/v1alpha1
kind: Fleet
metadata:
  name: lab
spec:
  seedImage:
    image: registry.example.com/seed:4.18.1
    version: 4.18.1
  groups:
    - name: canary
      clusters: [sno-1]
  addon:
    image: quay.example.com/ibu-gitops/ibu-gitops:0.1.0
`,
      "fleet.yaml",
    ),
  );
  const docs = parseAllDocuments(files.get("addon/observability.yaml")!).map(d => d.toJS());

  it("emits the dashboard ConfigMap the loader picks up, in ACM's namespace", () => {
    const cm = docs.find(
      d => d.kind === "ConfigMap" && d.metadata.labels?.["grafana-custom-dashboard"],
    );
    expect(cm.metadata.namespace).toBe(OBSERVABILITY_NAMESPACE);
    expect(cm.metadata.labels["grafana-custom-dashboard"]).toBe("true");
    expect(
      cm.metadata.annotations["observability.open-cluster-management.io/dashboard-folder"],
    ).toBe("ibu-gitops");
    expect(JSON.parse(cm.data[DASHBOARD_KEY])).toEqual(grafanaDashboard());
  });

  it("emits the allowlist, and the AppProject admits the namespace", () => {
    const cm = docs.find(d => d.metadata.name === ALLOWLIST_CONFIGMAP);
    expect(cm.metadata.namespace).toBe(OBSERVABILITY_NAMESPACE);
    expect(parse(cm.data["metrics_list.yaml"])).toEqual({ names: hubSeries() });
    const ns = docs.find(d => d.kind === "Namespace");
    expect(ns.metadata.annotations["argocd.argoproj.io/sync-options"]).toBe(
      "Prune=false,Delete=false",
    );
    const project = parseAllDocuments(files.get("argocd/argocd.yaml")!)
      .map(d => d.toJS())
      .find(d => d.kind === "AppProject");
    expect(project.spec.destinations.map((d: { namespace: string }) => d.namespace)).toContain(
      OBSERVABILITY_NAMESPACE,
    );
  });
});
