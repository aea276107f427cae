// Moved to src/sandbox/ (the demo uses it too); tests may import it from here.
export * from "../../src/sandbox/crds.js";
