// Dashboard benchmark: `npx tsx test/bench/dashboard.ts [--clusters 3500] [--changes 50]`.
// A private control plane (hub only), N clusters with reports written as the agent writes them,
// the hub controller and its server in this process, and Debian's Chromium driven by
// playwright-core. Prints: time to first render (the page's `ibu-first-render` mark, from
// navigation start), the browser's JS heap and DOM size (CDP Performance.getMetrics), and the
// latency from a report write on the hub apiserver to the page showing it (p50/p95), measured
// with one clock: the write starts in Node, a MutationObserver in the page stamps Date.now().
import { parseArgs } from "node:util";
import { loadOwnCrds, loadThirdPartyCrds } from "../support/crds.js";
import { ControlPlane } from "../support/controlplane.js";
import {
  Hub,
  RUN_LABEL,
  Spoke,
  launchChromium,
  pool,
  startHub,
  waitFor,
} from "../support/hub-fixture.js";

const { values } = parseArgs({
  options: {
    clusters: { type: "string", default: "3500" },
    changes: { type: "string", default: "50" },
  },
});
const N = Number(values.clusters);
const CHANGES = Number(values.changes);

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const mib = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const t0 = Date.now();
  const cp = await ControlPlane.start({ clusters: ["hub"] });
  try {
    await cp
      .cluster("hub")
      .installCrdSet([...(await loadThirdPartyCrds()), ...loadOwnCrds()], "hub");
    const hub = new Hub(cp.cluster("hub"));
    console.log(`control plane up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const run = "bench";
    const ns = "dash-bench";
    await hub.namespace(ns);
    const token = await hub.saToken(ns, "reader");
    await hub.grantReader(ns, "reader");

    const names = Array.from({ length: N }, (_, i) => `${run}-${String(i).padStart(4, "0")}`);
    const flows: Array<(s: Spoke) => Spoke> = [
      s => s,
      s => s.request("Prep"),
      s => s.request("Prep").complete("Prep"),
      s => s.request("Prep").complete("Prep").request("Upgrade"),
      s => s.request("Prep").complete("Prep").request("Upgrade").pivot().complete("Upgrade"),
      s => s.request("Prep").complete("Prep").request("Upgrade").pivot().request("Rollback"),
      s => s.request("Prep").complete("Prep").spec("Upgrade"),
    ];
    const spokes = names.map((n, i) => flows[i % flows.length]!(new Spoke(n)));
    const tl = Date.now();
    await pool(names, 16, async n => hub.addCluster(n, { [RUN_LABEL]: run }));
    await hub.group(`${run}-a`, "load-a", names.slice(0, 1000), 100, 3);
    await hub.group(`${run}-b`, "load-b", names.slice(1000, 2000), 100, 1);
    await pool(spokes, 16, async s => void (await hub.write(s)));
    console.log(`${N} clusters and reports written in ${((Date.now() - tl) / 1000).toFixed(1)} s`);

    const h = await startHub({
      api: hub.api,
      namespace: ns,
      clusterSelector: `${RUN_LABEL}=${run}`,
      concurrency: 16,
    });
    const browser = await launchChromium();
    try {
      await waitFor("hub synced", () => h.c.fleet.reports.size >= N && h.c.ready, 300_000);
      console.log(`hub synced; opening the page`);
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const cdp = await page.context().newCDPSession(page);
      await cdp.send("Performance.enable");
      const nav = Date.now();
      await page.goto(`${h.server.url}/#token=${encodeURIComponent(token)}`);
      await waitFor(
        "all clusters shown",
        async () => (await page.textContent("#sum-total")) === String(N),
        120_000,
      );
      const shown = Date.now() - nav;
      const firstRender = await page.evaluate<number>(
        `performance.getEntriesByName("ibu-first-render")[0]?.startTime ?? NaN`,
      );
      const metrics = async (): Promise<Record<string, number>> => {
        const { metrics: m } = await cdp.send("Performance.getMetrics");
        return Object.fromEntries(m.map(x => [x.name, x.value]));
      };
      await page.evaluate("new Promise(r => setTimeout(r, 500))");
      const atLoad = await metrics();
      const rows = await page.locator("#rows tr[data-name]:not([hidden])").count();
      console.log(`page shows ${N} clusters after ${shown} ms; measuring updates`);

      // Report changes to clusters whose rows are on screen: a new message each time.
      const latencies: number[] = [];
      const visible = Math.min(20, N);
      for (let k = 0; k < CHANGES; k++) {
        const s = spokes[k % visible]!;
        const message = `bench change ${k}`;
        // (a string: this file is type-checked without the DOM library)
        // (`void`: evaluate would await the promise)
        await page.evaluate(`void (window.__seen = new Promise(resolve => {
          const rows = document.getElementById("rows");
          const mo = new MutationObserver(() => {
            const tr = rows.querySelector('tr[data-name=${JSON.stringify(s.name)}]');
            if (tr?.cells[7]?.textContent === ${JSON.stringify(message)}) {
              mo.disconnect();
              resolve(Date.now());
            }
          });
          mo.observe(rows, { subtree: true, childList: true, characterData: true });
        }))`);
        s.override = { message };
        const start = Date.now();
        await hub.write(s);
        const seen = await page.evaluate<number>(
          "Promise.race([window.__seen, new Promise(r => setTimeout(() => r(NaN), 15000))])",
        );
        if (Number.isNaN(seen)) throw new Error(`change ${k} to ${s.name} not shown in 15 s`);
        latencies.push(seen - start);
      }
      await page.evaluate("new Promise(r => setTimeout(r, 500))");
      const after = await metrics();

      console.log(`\ndashboard with ${N} clusters (Chromium ${browser.version()}, headless)`);
      console.log(
        `  first render (navigation → table and summary drawn): ${firstRender.toFixed(0)} ms`,
      );
      console.log(`  navigation → total shown, as the test sees it: ${shown} ms`);
      console.log(`  table rows in the DOM (windowed): ${rows}`);
      console.log(
        `  JS heap used after load: ${mib(atLoad.JSHeapUsedSize!)} (total ${mib(atLoad.JSHeapTotalSize!)}), DOM nodes ${atLoad.Nodes}, listeners ${atLoad.JSEventListeners}`,
      );
      console.log(
        `  JS heap used after ${CHANGES} updates: ${mib(after.JSHeapUsedSize!)}, DOM nodes ${after.Nodes}, listeners ${after.JSEventListeners}`,
      );
      console.log(
        `  update latency (report write → row shows it), ${latencies.length} changes: p50 ${pct(latencies, 50)} ms, p95 ${pct(latencies, 95)} ms, max ${Math.max(...latencies)} ms`,
      );
    } finally {
      await browser.close();
      await h.stop();
    }
  } finally {
    await cp.stop();
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
