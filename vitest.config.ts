import { defineConfig } from "vitest/config";

// Two projects: fast unit tests, and integration tests that share one real control plane
// (started once by test/support/global-setup.ts). Integration timeouts are generous because a
// cold first run may build kube-apiserver and etcd from the Go module proxy.
export default defineConfig({
  test: {
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["./test/support/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
