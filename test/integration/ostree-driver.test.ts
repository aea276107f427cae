// The ostree and sandbox boot drivers on a real sysroot: a second stateroot deployed not as
// default, made default (Debian's ostree has no set-default), booted by power-on, removed.
import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { bootedDeployment, SandboxBoot, sandboxPowerOn } from "../../addon/agent/drivers/boot.js";
import { makeSysroot, commitRelease, type TestSysroot } from "../support/sysroot.js";

describe("the ostree driver", () => {
  let sys: TestSysroot | undefined;
  afterEach(async () => {
    await sys?.remove();
    sys = undefined;
  });

  it("deploys a new stateroot after the booted one, switches the default, and boots it", async () => {
    sys = await makeSysroot("4.17.0");
    const { ostree, dir } = sys;
    let exited = -1;
    const boot = new SandboxBoot(dir, code => (exited = code));
    expect(bootedDeployment(ostree, boot)?.stateroot).toBe("rhcos_4.17.0");

    await commitRelease(ostree.repo, "4.18.1");
    await ostree.osInit("rhcos_4.18.1");
    await ostree.deploy("rhcos_4.18.1", "rhcos/4.18.1", { kargs: ["ibu=4.18.1"] });
    expect(ostree.deployments().map(d => [d.index, d.stateroot])).toEqual([
      [0, "rhcos_4.17.0"],
      [1, "rhcos_4.18.1"],
    ]);
    expect(ostree.stateroots()).toEqual(["rhcos_4.17.0", "rhcos_4.18.1"]);

    await ostree.setDefault(ostree.deployments()[1]!);
    expect(ostree.deployments().map(d => d.stateroot)).toEqual(["rhcos_4.18.1", "rhcos_4.17.0"]);

    await boot.reboot("System will now reboot for upgrade");
    expect(exited).toBe(0);
    expect(existsSync(SandboxBoot.rebootMarker(dir))).toBe(true);
    sandboxPowerOn(dir);
    expect(existsSync(SandboxBoot.rebootMarker(dir))).toBe(false);
    expect(bootedDeployment(ostree, boot)?.stateroot).toBe("rhcos_4.18.1");

    await ostree.removeStateroot("rhcos_4.17.0");
    expect(ostree.stateroots()).toEqual(["rhcos_4.18.1"]);
    expect(ostree.deployments().map(d => d.stateroot)).toEqual(["rhcos_4.18.1"]);
  });
});
