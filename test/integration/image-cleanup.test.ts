// Prep's image cleanup on a real small tmpfs: above the threshold, unpinned images go, oldest
// first in batches of five, until usage is below it; pinned images stay; LCA's annotations turn
// it off or move the threshold.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usagePercent } from "../../addon/agent/drivers/disk.js";
import { SandboxBoot } from "../../addon/agent/drivers/boot.js";
import { ImageStore } from "../../addon/agent/drivers/images.js";
import { OstreeDriver } from "../../addon/agent/drivers/ostree.js";
import type { Ibu } from "../../addon/agent/ibu-types.js";
import { Node } from "../../addon/agent/node.js";
import { cleanImages } from "../../addon/agent/stages/prep.js";
import { pushTinyImage } from "../support/images.js";
import { TestRegistry } from "../support/registry.js";
import { scratchDir } from "../support/scratch.js";

const ibu = (annotations: Record<string, string> = {}): Ibu => ({
  apiVersion: "lca.openshift.io/v1",
  kind: "ImageBasedUpgrade",
  metadata: { name: "upgrade", annotations },
  spec: { stage: "Prep" },
});

describe("Prep image cleanup", () => {
  let registry: TestRegistry;
  const images: string[] = [];

  beforeAll(async () => {
    registry = await TestRegistry.start();
    for (let i = 0; i < 12; i++) {
      const image = `${registry.host}/apps/app-${String(i).padStart(2, "0")}:1`;
      // Random content does not compress: each image takes about half a MiB.
      await pushTinyImage(image, {
        content: randomBytes(512 * 1024)
          .toString("base64")
          .slice(0, 512 * 1024),
      });
      images.push(image);
    }
  }, 120_000);
  afterAll(() => registry?.stop());

  /** A store on its own 8 MiB tmpfs, filled with the 12 images in order (oldest first). */
  async function fullStore(): Promise<{ store: ImageStore; node: Node }> {
    const dir = scratchDir("ibu-tmpfs");
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", dir]);
    } catch (err) {
      throw new Error(`this test needs to mount a tmpfs (run as root): ${(err as Error).message}`, {
        cause: err,
      });
    }
    const { onTestFinished } = await import("vitest");
    onTestFinished(() => void execFileSync("umount", [dir]));
    const store = new ImageStore(dir);
    for (const image of images) {
      await store.pull(image, { tlsVerify: false });
      await new Promise(r => setTimeout(r, 15)); // distinct store times
    }
    const node = new Node({
      ostree: new OstreeDriver(dir),
      boot: new SandboxBoot(dir, () => undefined),
      imageStoreRoot: dir,
    });
    return { store, node };
  }

  it("removes the oldest unpinned images, five at a time, until usage is below 50 %; pinned stay", async () => {
    const { store, node } = await fullStore();
    store.pin(images[0]!);
    const before = usagePercent(store.root);
    expect(before).toBeGreaterThan(50);
    const removed = cleanImages({ ibu: ibu(), node });
    expect(usagePercent(store.root)).toBeLessThanOrEqual(50);
    expect(removed).toEqual(images.slice(1, 6).map(i => ImageStore.nameOf(i))); // one batch was enough
    expect(store.has(images[0]!)).toBe(true); // pinned, though oldest
    expect(images.slice(6).every(i => store.has(i))).toBe(true);
  });

  it("follows the threshold annotation, and does nothing when on-prep cleanup is Disabled", async () => {
    const { store, node } = await fullStore();
    const usage = usagePercent(store.root);
    expect(
      cleanImages({ ibu: ibu({ "image-cleanup.lca.openshift.io/on-prep": "Disabled" }), node }),
    ).toEqual([]);
    expect(
      cleanImages({
        ibu: ibu({
          "image-cleanup.lca.openshift.io/disk-usage-threshold-percent": String(
            Math.ceil(usage) + 1,
          ),
        }),
        node,
      }),
    ).toEqual([]);
    expect(
      cleanImages({
        ibu: ibu({ "image-cleanup.lca.openshift.io/disk-usage-threshold-percent": "not-a-number" }),
        node,
      }),
    ).toEqual([]);
    expect(store.list()).toHaveLength(12);
    const removed = cleanImages({
      ibu: ibu({ "image-cleanup.lca.openshift.io/disk-usage-threshold-percent": "20" }),
      node,
    });
    expect(usagePercent(store.root)).toBeLessThanOrEqual(20);
    expect(removed.length % 5 === 0 || store.entries().every(e => e.pinned)).toBe(true);
  });
});
