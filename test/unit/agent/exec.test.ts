// Tool errors show the tool's own message, not its log noise.
import { describe, expect, it } from "vitest";
import { fatalMessage, run } from "../../../addon/agent/exec.js";

describe("tool errors", () => {
  it("take skopeo's fatal message, unescaped", () => {
    const stderr =
      'time="2026-11-26T13:33:35Z" level=warning msg="Failed, retrying"\ntime="2026-11-26T13:33:35Z" level=fatal msg="Error parsing image name \\"docker://r/x:1\\": manifest unknown"\n';
    expect(fatalMessage(stderr)).toBe(
      'Error parsing image name "docker://r/x:1": manifest unknown',
    );
    expect(fatalMessage("plain error\n")).toBeUndefined();
  });

  it("name the Debian package of a missing tool", async () => {
    await expect(run("ostree-not-installed-anywhere", [])).rejects.toThrow(
      /ostree-not-installed-anywhere is not installed/,
    );
  });
});
