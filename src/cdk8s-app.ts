// Entry point for `cdk8s synth` (see cdk8s.yaml): the examples into $CDK8S_OUTDIR, using the
// same synthesizer as `ibu-gitops synth`.
import { runSynth } from "./cli/synth.js";

const out = process.env.CDK8S_OUTDIR ?? "policies";
process.exitCode = runSynth({ files: ["examples"], out, check: false }, line =>
  console.error(line),
);
