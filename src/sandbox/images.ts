// Small real images for tests: an empty OCI image with a label and a file, made with umoci and
// pushed with skopeo to a test registry.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "../../addon/agent/exec.js";

export async function pushTinyImage(
  image: string,
  opts: { labels?: Record<string, string>; content?: string } = {},
): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "ibu-img-"));
  try {
    const ref = `${join(work, "oci")}:img`;
    await run("umoci", ["init", "--layout", join(work, "oci")]);
    await run("umoci", ["new", "--image", ref]);
    await run("umoci", ["unpack", "--image", ref, join(work, "b")]);
    mkdirSync(join(work, "b", "rootfs", "data"), { recursive: true });
    writeFileSync(join(work, "b", "rootfs", "data", "content"), opts.content ?? image);
    await run("umoci", ["repack", "--image", ref, join(work, "b")]);
    const labels = Object.entries(opts.labels ?? {}).flatMap(([k, v]) => [
      "--config.label",
      `${k}=${v}`,
    ]);
    if (labels.length) await run("umoci", ["config", "--image", ref, ...labels]);
    await run("skopeo", [
      "copy",
      "--quiet",
      "--dest-tls-verify=false",
      `oci:${ref}`,
      `docker://${image}`,
    ]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
