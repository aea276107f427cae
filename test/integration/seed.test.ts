// `seed build` makes a real seed image: from a stateroot on a real ostree sysroot, pushed to a
// real loopback registry, with LCA's labels and files (shared/reference/lca.md §5.2).
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "../../addon/agent/exec.js";
import { buildSeed } from "../../addon/agent/seed/build.js";
import {
  defaultClusterInfo,
  LABEL_CLUSTER_INFO,
  LABEL_FORMAT_VERSION,
} from "../../addon/agent/seed/format.js";
import { TestRegistry } from "../support/registry.js";
import { makeSysroot, type TestSysroot } from "../support/sysroot.js";

describe("seed build", () => {
  let registry: TestRegistry;
  let seedCluster: TestSysroot;
  const work = mkdtempSync(join(tmpdir(), "ibu-seed-test-"));

  beforeAll(async () => {
    [registry, seedCluster] = await Promise.all([
      TestRegistry.start(),
      makeSysroot("4.18.1", { hostname: "seed" }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([registry?.stop(), seedCluster?.remove()]);
    rmSync(work, { recursive: true, force: true });
  });

  it("pushes an image with LCA's labels and files, carrying the stateroot's commit, /var and /etc changes", async () => {
    const image = `${registry.host}/seeds/sno:4.18.1`;
    const info = defaultClusterInfo("4.18.1");
    const { digest } = await buildSeed({
      sysroot: seedCluster.dir,
      version: "4.18.1",
      clusterInfo: info,
      images: [
        "quay.example.com/openshift/release@sha256:aaaa",
        "quay.example.com/olm/operator:v1",
      ],
      image,
      tlsVerify: false,
    });
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const inspect = JSON.parse(
      await run("skopeo", ["inspect", "--tls-verify=false", `docker://${image}`]),
    ) as { Labels: Record<string, string> };
    expect(inspect.Labels[LABEL_FORMAT_VERSION]).toBe("4");
    expect(JSON.parse(inspect.Labels[LABEL_CLUSTER_INFO]!)).toEqual(info);

    await run("skopeo", [
      "copy",
      "--quiet",
      "--src-tls-verify=false",
      `docker://${image}`,
      `oci:${join(work, "oci")}:seed`,
    ]);
    await run("umoci", ["unpack", "--image", `${join(work, "oci")}:seed`, join(work, "bundle")]);
    const root = join(work, "bundle", "rootfs");
    for (const f of [
      "manifest.json",
      "containers.list",
      "ostree.tgz",
      "var.tgz",
      "etc.tgz",
      "etc.deletions",
      "rpm-ostree.json",
      "mco-currentconfig.json",
    ]) {
      expect(existsSync(join(root, f)), f).toBe(true);
    }
    expect(readFileSync(join(root, "containers.list"), "utf8")).toBe(
      "quay.example.com/openshift/release@sha256:aaaa\nquay.example.com/olm/operator:v1\n",
    );
    const rpmOstree = JSON.parse(readFileSync(join(root, "rpm-ostree.json"), "utf8")) as {
      deployments: Array<{ osname: string; checksum: string }>;
    };
    expect(rpmOstree.deployments[0]!.osname).toBe("rhcos_4.18.1");

    // The archived repository holds the deployed commit under ref "seed".
    const repo = join(work, "repo");
    await run("mkdir", ["-p", repo]);
    await run("tar", ["xzf", join(root, "ostree.tgz"), "-C", repo]);
    expect((await run("ostree", [`--repo=${repo}`, "rev-parse", "seed"])).trim()).toBe(
      rpmOstree.deployments[0]!.checksum,
    );
    // /etc changes: the hostname the seed cluster set, not the commit's default.
    expect(
      await run("tar", ["xzOf", join(root, "etc.tgz"), "./hostname"]).catch(() =>
        run("tar", ["xzOf", join(root, "etc.tgz"), "hostname"]),
      ),
    ).toBe("seed\n");
    expect(await run("tar", ["tzf", join(root, "var.tgz")])).toContain("lib/kubelet/config.json");
  });

  it("says which stateroots exist when the one asked for is missing", async () => {
    await expect(
      buildSeed({
        sysroot: seedCluster.dir,
        version: "9.9.9",
        clusterInfo: defaultClusterInfo("9.9.9"),
        images: [],
        image: `${registry.host}/x:y`,
        tlsVerify: false,
      }),
    ).rejects.toThrow(/no deployment of stateroot rhcos_9.9.9 .* \(have: rhcos_4.18.1\)/);
  });
});
