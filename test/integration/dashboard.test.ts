// The hub dashboard in real Chromium (playwright-core driving Debian's /usr/bin/chromium)
// against the hub controller running in-process on the real hub apiserver: reports written as
// the agent writes them, ServiceAccount tokens from the TokenRequest API checked through
// TokenReview and SubjectAccessReview. Summary counts against the API, live updates over the
// fetch()-read event stream, filters and sorting, the per-cluster view, untrusted text, the
// 401 and 403 paths, the keyboard, and a screenshot in test-artifacts/.
// (Page callbacks run in the browser and are typed without the DOM library: what they return is any.)
/* eslint-disable @typescript-eslint/no-unsafe-return */
import { mkdirSync, statSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { CONTENT_SECURITY_POLICY } from "../../addon/hub/dashboard/assets.js";
import { sharedCluster, uniqueName } from "../support/shared.js";
import {
  Hub,
  RUN_LABEL,
  Spoke,
  launchChromium,
  startHub,
  waitFor,
} from "../support/hub-fixture.js";

const XSS = `<script>window.__xss=1</script><img src=x onerror="window.__xss=2">`;
const STATES = ["Idle", "Pending", "InProgress", "Completed", "Failed", "Blocked", "NoReport"];
const SCREENSHOT = "test-artifacts/dashboard.png";

type Summary = {
  total: number;
  done: number;
  byStageState: Record<string, Record<string, number>>;
  byGroup: Record<string, { total: number; done: number }>;
  failed: { count: number };
  stuck: { count: number };
  autoRolledBack: { count: number };
  autoImportDisabled: number;
  ungrouped: number;
};

describe("hub dashboard in Chromium", () => {
  const hub = new Hub(sharedCluster("hub"));
  const run = uniqueName("dash");
  const ns = uniqueName("dash-ns");
  const n = (s: string): string => `${run}-${s}`;
  let hubProc: Awaited<ReturnType<typeof startHub>>;
  let browser: Browser;
  let reader = "";
  let nobody = "";
  const spokes = new Map<string, Spoke>();
  const contexts: BrowserContext[] = [];

  const api = async <T>(path: string, token = reader): Promise<T> => {
    const res = await fetch(`${hubProc.server.url}${path}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };

  /** A fresh browser context (its own sessionStorage); dialogs and CSP reports are recorded. */
  async function openPage(
    fragment = "",
    width = 1400,
  ): Promise<{
    page: Page;
    dialogs: string[];
    console: string[];
  }> {
    const ctx = await browser.newContext({ viewport: { width, height: 1000 } });
    contexts.push(ctx);
    const page = await ctx.newPage();
    const dialogs: string[] = [];
    const console: string[] = [];
    page.on("dialog", d => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on("console", m => console.push(`${m.type()}: ${m.text()}`));
    page.on("pageerror", e => console.push(`pageerror: ${e.message}`));
    await page.goto(`${hubProc.server.url}/${fragment}`);
    return { page, dialogs, console };
  }

  /** Signed in through `#token=`, with every cluster of the run shown. */
  async function signedIn(
    width = 1400,
  ): Promise<{ page: Page; dialogs: string[]; console: string[] }> {
    const p = await openPage(`#token=${encodeURIComponent(reader)}`, width);
    await p.page.locator("#app").waitFor({ state: "visible" });
    await waitFor("all rows", async () => (await p.page.textContent("#sum-total")) === "11");
    return p;
  }

  const shownNames = (page: Page): Promise<string[]> =>
    page.$$eval("#rows tr[data-name]:not([hidden])", rows =>
      rows.map(r => (r as any).dataset.name!),
    );
  const rowCells = (page: Page, name: string): Promise<string[]> =>
    page.$$eval(`#rows tr[data-name="${name}"] td`, tds => tds.map(td => td.textContent ?? ""));

  beforeAll(async () => {
    browser = await launchChromium();
    await hub.namespace(ns);
    reader = await hub.saToken(ns, "reader");
    nobody = await hub.saToken(ns, "nobody");
    await hub.grantReader(ns, "reader");
    hubProc = await startHub({
      api: hub.api,
      namespace: ns,
      clusterSelector: `${RUN_LABEL}=${run}`,
      stuckAfterMs: 30 * 60_000,
    });
    const add = (suffix: string, flow: (s: Spoke) => Spoke): void => {
      spokes.set(suffix, flow(new Spoke(n(suffix))));
    };
    add("a1", s => s.request("Prep"));
    add("a2", s => s.request("Prep").complete("Prep"));
    add("a3", s => {
      s.request("Prep").complete("Prep").request("Upgrade");
      s.override = {
        node: {
          bootedStateroot: "rhcos_4.17.0",
          stateroots: ["rhcos_4.17.0", "rhcos_4.18.1"],
          precache: { total: 40, pulled: 25, failed: 1 },
          containerStorageUsedPercent: 42,
        },
      };
      return s;
    });
    add("b1", s =>
      s.request("Prep").complete("Prep").request("Upgrade").pivot().complete("Upgrade"),
    );
    add("b2", s => s);
    // in progress with no progress for two hours: stuck
    add("c1", s => s.request("Prep").age(2 * 3600_000));
    add("x1", s => {
      s.request("Prep");
      s.override = { state: "Failed", message: XSS };
      return s;
    });
    add("r1", s => {
      s.request("Prep").complete("Prep").request("Upgrade").pivot().request("Rollback");
      s.override = {
        autoRolledBack: true,
        message: "Rollback due to init monitor timeout",
      };
      return s;
    });
    // f1 upgraded, then finalized (LCA clears the history then); g1 finalizing; k1 cancelling.
    add("f1", s =>
      s.request("Prep").complete("Prep").request("Upgrade").pivot().complete("Upgrade"),
    );
    add("g1", s =>
      s
        .request("Prep")
        .complete("Prep")
        .request("Upgrade")
        .pivot()
        .complete("Upgrade")
        .request("Idle"),
    );
    add("k1", s => s.request("Prep").request("Idle"));
    for (const s of spokes.values()) await hub.addCluster(s.name, { [RUN_LABEL]: run });
    await hub.group(n("a"), "group-a", [n("a1"), n("a2"), n("a3")], 2, 2);
    await hub.group(n("b"), "group-b", [n("b1"), n("b2"), n("x1"), n("r1"), n("f1")], 100, 1);
    for (const s of spokes.values()) await hub.write(s);
    await waitFor(
      "fleet seen",
      () => [...spokes.values()].every(s => hubProc.c.fleet.reports.has(s.name)) && hubProc.c.ready,
    );
    await waitFor(
      "groups seen",
      () => hubProc.c.fleet.summary(n("a3"), Date.now(), 1)?.batch === 2,
    );
    await hub.write(spokes.get("f1")!.request("Idle").idle());
    await waitFor("f1 finalized", () => hubProc.c.fleet.summary(n("f1"), Date.now(), 1)?.done);
    mkdirSync("test-artifacts", { recursive: true });
  }, 120_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await hubProc?.stop();
  });

  it("serves the shell without data and with a strict CSP; the API needs a token", async () => {
    const res = await fetch(`${hubProc.server.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain(
      "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    );
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    const html = await res.text();
    expect(html).not.toContain(run);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    const js = await fetch(`${hubProc.server.url}/static/app.js`);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await js.text()).not.toMatch(
      /\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write/,
    );
    expect((await fetch(`${hubProc.server.url}/static/nope.js`)).status).toBe(404);
    expect((await fetch(`${hubProc.server.url}/api/v1/summary`)).status).toBe(401);
    expect((await fetch(`${hubProc.server.url}/api/v1/events`)).status).toBe(401);
  });

  it("without a token shows the login form; a rejected token keeps it, with a message", async () => {
    const { page } = await openPage();
    await page.locator("#login").waitFor({ state: "visible" });
    expect(await page.isHidden("#app")).toBe(true);
    await page.fill("#token", "not-a-token");
    await page.click("#login-form button[type=submit]");
    await expect.poll(() => page.textContent("#login-error")).toMatch(/did not accept.*401/);
    expect(await page.isVisible("#login")).toBe(true);
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
  });

  it("a token without RBAC shows 'not authorized'", async () => {
    const { page } = await openPage(`#token=${encodeURIComponent(nobody)}`);
    await page.locator("#denied").waitFor({ state: "visible" });
    expect(await page.textContent("#denied-text")).toMatch(/Not authorized.*may not list/);
    expect(await page.isHidden("#app")).toBe(true);
  });

  it("takes the token from the fragment, drops it from the address bar, counts like the API", async () => {
    const { page, console } = await signedIn();
    expect(page.url()).not.toContain("token");
    expect(await page.evaluate("location.hash")).toBe("");
    const sum = await api<Summary>("/api/v1/summary");
    expect(await page.textContent("#sum-total")).toBe(String(sum.total));
    expect(await page.textContent("#sum-failed")).toBe(String(sum.failed.count));
    expect(await page.textContent("#sum-stuck")).toBe(String(sum.stuck.count));
    expect(await page.textContent("#sum-rolledback")).toBe(String(sum.autoRolledBack.count));
    expect(await page.textContent("#sum-autoimport")).toBe(String(sum.autoImportDisabled));
    expect(sum.stuck.count).toBe(1);
    expect(sum.failed.count).toBe(1);
    expect(sum.autoRolledBack.count).toBe(1);
    const matrix = await page.$$eval("#matrix-body td[data-stage][data-state]", tds =>
      tds.map(td => [td.dataset.stage!, td.dataset.state!, Number(td.textContent)] as const),
    );
    const shown: Record<string, Record<string, number>> = {};
    for (const [stage, state, count] of matrix) if (count) (shown[stage] ??= {})[state] = count;
    expect(shown).toEqual(sum.byStageState);
    const groups = await page.$$eval("#groups-body tr.group", trs =>
      trs.map(tr => [
        (tr as any).dataset.group!,
        Number(tr.querySelector("[data-count=total]")!.textContent),
      ]),
    );
    expect(Object.fromEntries(groups)).toEqual(
      Object.fromEntries(Object.entries(sum.byGroup).map(([g, c]) => [g, c.total])),
    );
    expect(await page.textContent("#groups-body tr.ungrouped [data-count=total]")).toBe(
      String(sum.ungrouped),
    );
    // batches from TALM's remediation plan, with a progress bar per group
    const batches = await page.$$eval("#groups-body tr.batch", trs =>
      trs.map(tr => tr.textContent),
    );
    expect(batches.some(t => t?.includes("2 (current)"))).toBe(true);
    expect(await page.locator("#groups-body progress").count()).toBeGreaterThanOrEqual(2);
    // highlighted, with words as well as colour
    // done: on the target version and finalized, per group as the API counts it
    const done = await page.$$eval("#groups-body tr.group", trs =>
      trs.map(tr => [
        (tr as any).dataset.group!,
        Number(tr.querySelector("[data-count=done]")!.textContent),
      ]),
    );
    expect(Object.fromEntries(done)).toEqual(
      Object.fromEntries(Object.entries(sum.byGroup).map(([g, c]) => [g, c.done])),
    );
    expect(sum.done).toBe(1);
    expect(sum.byGroup["group-b"]!.done).toBe(1);
    expect(await page.textContent('#groups-body tr.group[data-group="group-b"]')).toContain(
      "4.18.1 ×3, 4.17.0 ×2 → 4.18.1 ×5",
    );
    expect((await rowCells(page, n("c1")))[6]).toContain("Stuck");
    expect((await rowCells(page, n("r1")))[6]).toContain("Auto rolled back");
    expect((await rowCells(page, n("x1")))[2]).toBe("✖ Failed");
    expect(await page.getAttribute(`#rows tr[data-name="${n("c1")}"]`, "class")).toBe("is-stuck");
    expect(console.filter(l => /Content Security Policy|pageerror/i.test(l))).toEqual([]);
  });

  it("renders untrusted cluster text literally: no markup, no script, no dialog", async () => {
    const { page, dialogs } = await signedIn();
    const cells = await rowCells(page, n("x1"));
    expect(cells[8]).toBe(XSS);
    await page.click(`#rows tr[data-name="${n("x1")}"]`);
    await page.locator("#detail").waitFor({ state: "visible" });
    await expect.poll(() => page.textContent("#detail-body")).toContain(XSS);
    expect(await page.locator("#detail-body img, #rows img, #detail-body script").count()).toBe(0);
    expect(await page.evaluate("window.__xss")).toBe(undefined);
    expect(dialogs).toEqual([]);
  });

  it("filters by name, stage, state and group, and sorts by each column", async () => {
    const { page } = await signedIn();
    type Item = { name: string; stage: string; state: string; group?: string; reportTime?: string };
    const list = async (q = ""): Promise<Item[]> =>
      (await api<{ items: Item[] }>(`/api/v1/clusters?limit=5000${q}`)).items;
    const all = await list();
    expect(await shownNames(page)).toEqual(all.map(c => c.name));

    await page.fill("#f-name", `${run}-a`);
    await expect
      .poll(() => shownNames(page))
      .toEqual((await list(`&name=${run}-a`)).map(c => c.name));
    await page.fill("#f-name", "");
    await page.selectOption("#f-stage", "Prep");
    await expect.poll(() => shownNames(page)).toEqual((await list("&stage=Prep")).map(c => c.name));
    await page.selectOption("#f-state", "InProgress");
    await expect
      .poll(() => shownNames(page))
      .toEqual((await list("&stage=Prep&state=InProgress")).map(c => c.name));
    await page.selectOption("#f-stage", "");
    await page.selectOption("#f-state", "");
    await page.selectOption("#f-group", "group-b");
    await expect
      .poll(() => shownNames(page))
      .toEqual((await list("&group=group-b")).map(c => c.name));
    await page.selectOption("#f-group", "");
    await page.check("#f-attention");
    await expect.poll(() => shownNames(page)).toEqual([n("c1"), n("r1"), n("x1")]);
    await page.uncheck("#f-attention");

    const byThenName =
      (key: (c: Item) => string | number, dir: number) =>
      (a: Item, b: Item): number => {
        const x = key(a);
        const y = key(b);
        return x < y ? -dir : x > y ? dir : a.name.localeCompare(b.name);
      };
    const sortBy = async (col: string, key: (c: Item) => string | number): Promise<void> => {
      await page.click(`#table th[data-sort=${col}] button`);
      expect(await page.getAttribute(`#table th[data-sort=${col}]`, "aria-sort")).toBe("ascending");
      await expect
        .poll(() => shownNames(page))
        .toEqual([...all].sort(byThenName(key, 1)).map(c => c.name));
      await page.click(`#table th[data-sort=${col}] button`);
      expect(await page.getAttribute(`#table th[data-sort=${col}]`, "aria-sort")).toBe(
        "descending",
      );
      await expect
        .poll(() => shownNames(page))
        .toEqual([...all].sort(byThenName(key, -1)).map(c => c.name));
    };
    const STAGES = ["Idle", "Prep", "Upgrade", "Rollback", "Unknown"];
    await sortBy("state", c => STATES.indexOf(c.state));
    await sortBy("stage", c => STAGES.indexOf(c.stage));
    await sortBy("group", c => c.group ?? "\uffff");
    await sortBy("report", c => c.reportTime ?? "");
    await sortBy("name", c => c.name);
  });

  it("shows a cluster's conditions, timeline with durations, next stages, stateroots, precache and auto-import", async () => {
    const { page } = await signedIn();
    await page.click(`#rows tr[data-name="${n("a3")}"]`);
    const dialog = page.locator("#detail");
    await dialog.waitFor({ state: "visible" });
    expect(await page.textContent("#detail-heading")).toBe(n("a3"));
    await page.locator("#detail-body .timeline").waitFor();
    const stages = await page.$$eval("#detail-body .timeline > li", lis =>
      lis.map(li => [(li as any).dataset.stage, li.querySelector(".dur, .running")?.className]),
    );
    expect(stages).toEqual([
      ["Prep", "dur"],
      ["Upgrade", "running"],
    ]);
    const body = (await page.textContent("#detail-body"))!;
    expect(body).toMatch(/Prep — \d+s/);
    expect(body).toContain("UpgradeInProgress");
    expect(
      await page.$$eval("#detail-body ul.next li", lis => lis.map(l => l.textContent)),
    ).toEqual(["Idle"]);
    expect(
      await page.$$eval("#detail-body ul.stateroots li", lis => lis.map(l => l.textContent)),
    ).toEqual(["rhcos_4.17.0 (booted)", "rhcos_4.18.1"]);
    expect(body).toContain("25 of 40 images pulled, 1 failed");
    expect(body).toMatch(/Annotation.*present \("true"\): auto-import disabled/);
    expect(body).toMatch(/Hub rule.*Disable: Upgrade in progress/);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "hidden" });
  });

  it("names finalize and cancel, shows versions, and keeps the stage history a finalize clears", async () => {
    const { page } = await signedIn();
    expect((await rowCells(page, n("g1")))[2]).toBe("▶ Finalizing");
    expect((await rowCells(page, n("k1")))[2]).toBe("▶ Cancelling");
    expect((await rowCells(page, n("f1")))[5]).toBe("4.18.1");
    expect((await rowCells(page, n("a1")))[5]).toBe("4.17.0 → 4.18.1");
    await page.click(`#rows tr[data-name="${n("f1")}"]`);
    await page.locator("#detail-body .timeline").waitFor();
    const body = (await page.textContent("#detail-body"))!;
    expect(body).toContain("Timeline (before the IBU went back to Idle)");
    expect(body).toContain("yes: on the target version, finalized");
    expect(
      await page.$$eval("#detail-body .timeline > li", lis =>
        lis.map(li => (li as any).dataset.stage),
      ),
    ).toEqual(["Prep", "Upgrade"]);
    await page.keyboard.press("Escape");
  });

  it("fits 760 px: every column on screen, no empty box under a short list", async () => {
    const { page, console } = await signedIn(760);
    const overflow = await page.evaluate(
      "document.documentElement.scrollWidth - document.documentElement.clientWidth",
    );
    expect(overflow).toBeLessThanOrEqual(0);
    for (const table of ["#table", "#groups", "#matrix"]) {
      const edges = await page.$$eval(`${table} thead th`, ths =>
        ths.map(th => {
          const r = th.getBoundingClientRect();
          return [r.left, r.right, (th.textContent ?? "").trim()] as const;
        }),
      );
      expect(edges.length, table).toBeGreaterThan(3);
      for (const [left, right, label] of edges) {
        expect(left, `${table} ${label}`).toBeGreaterThanOrEqual(0);
        expect(right, `${table} ${label}`).toBeLessThanOrEqual(760);
        expect(right - left, `${table} ${label}`).toBeGreaterThan(24);
      }
    }
    // A short list: the list's box ends with its rows.
    await page.fill("#f-name", `${run}-a`);
    await expect.poll(() => shownNames(page)).toHaveLength(3);
    const gap = await page.evaluate(`(() => {
      const s = document.getElementById("scroller");
      const rows = [...document.querySelectorAll("#rows tr[data-name]:not([hidden])")];
      const last = rows[rows.length - 1].getBoundingClientRect().bottom;
      return s.getBoundingClientRect().bottom - last;
    })()`);
    expect(gap).toBeLessThan(8);
    await page.fill("#f-name", "");
    await page.screenshot({ path: "test-artifacts/dashboard-760.png", fullPage: true });
    expect(console.filter(l => /pageerror/i.test(l))).toEqual([]);
  });

  it("shows a report change live, without reloading", async () => {
    const { page } = await signedIn();
    await page.evaluate("window.__same = true");
    const s = spokes.get("b2")!;
    const before = Number(
      await page.textContent('#matrix-body td[data-stage="Prep"][data-state="InProgress"]'),
    );
    await hub.write(s.request("Prep"));
    await expect
      .poll(() => rowCells(page, s.name), { timeout: 15_000 })
      .toEqual(expect.arrayContaining(["Prep", "▶ In progress"]));
    expect(
      Number(await page.textContent('#matrix-body td[data-stage="Prep"][data-state="InProgress"]')),
    ).toBe(before + 1);
    expect(await page.evaluate("window.__same")).toBe(true);
    const sum = await api<Summary>("/api/v1/summary");
    expect(await page.textContent("#sum-total")).toBe(String(sum.total));
  });

  it("is keyboard navigable: Tab reaches a row, Enter opens it, Escape closes it", async () => {
    const { page } = await signedIn();
    await page.focus("#f-name");
    let focused: string | undefined;
    for (let i = 0; i < 30 && !focused; i++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate<string | undefined>(
        `document.activeElement?.matches("#rows tr[data-name]") ? document.activeElement.dataset.name : undefined`,
      );
    }
    expect(focused).toBe(n("a1")); // the first row
    await page.keyboard.press("ArrowDown");
    const second = await page.evaluate<string>("document.activeElement.dataset.name");
    expect(second).toBe(n("a2"));
    await page.keyboard.press("Enter");
    await page.locator("#detail").waitFor({ state: "visible" });
    expect(await page.textContent("#detail-heading")).toBe(n("a2"));
    await page.keyboard.press("Escape");
    await page.locator("#detail").waitFor({ state: "hidden" });
    expect(await page.evaluate<string>("document.activeElement.dataset.name")).toBe(n("a2"));
    // headings and labels for assistive technology
    expect(await page.$$eval("h1, h2", hs => hs.map(h => h.textContent))).toEqual(
      expect.arrayContaining(["ibu-gitops fleet", "Fleet summary", "Clusters"]),
    );
    for (const id of ["f-name", "f-stage", "f-state", "f-group", "f-attention"])
      expect(await page.locator(`label:has(#${id})`).count(), id).toBe(1);
  });

  it("saves a screenshot", async () => {
    const { page } = await signedIn();
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
  });
});
