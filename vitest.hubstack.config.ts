import { defineConfig } from "vitest/config";

// Rollouts on the real hub stack (test/hubstack/): `npm run test:hubstack`. Not yet part of
// `npm test`: the scenarios have not had a green run (see README, "Testing against real control
// planes"). One file at a time: the PlacementRule controller's metrics port is fixed.
export default defineConfig({
  test: {
    include: ["test/hubstack/**/*.test.ts"],
    testTimeout: 900_000,
    hookTimeout: 900_000,
    fileParallelism: false,
    globalSetup: ["./test/support/build-setup.ts"],
  },
});
