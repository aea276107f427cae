import { defineConfig } from "vitest/config";

// Three projects, each building the compiled CLI first when its sources changed (tests start
// bin/ibu-gitops.js, which runs dist/): fast unit tests, integration tests that share one real control plane
// (started once by test/support/global-setup.ts), and e2e. Integration timeouts are generous because a
// cold first run may build kube-apiserver and etcd from the Go module proxy.
export default defineConfig({
  test: {
    reporters: ["default", "./test/support/summary-reporter.ts"],
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts"],
          globalSetup: ["./test/support/build-setup.ts"],
          // Some unit tests run the CLI as a process; beside the integration and e2e runs on 2
          // cores (npm test) a second or two becomes ten.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: "integration",
          include: ["test/integration/**/*.test.ts"],
          globalSetup: ["./test/support/build-setup.ts", "./test/support/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The whole product end to end, each file on its own control planes: `ibu-gitops demo`, and
        // rollouts through the real hub stack (governance, OCM, TALM; hub-stack.test.ts).
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          globalSetup: ["./test/support/build-setup.ts"],
          testTimeout: 600_000,
        },
      },
    ],
  },
});
