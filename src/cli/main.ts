#!/usr/bin/env node
// The `ibu-gitops` command: synth, validate and plan for fleets (more commands come with the
// agent, hub and demo). Bad input is reported as a list of problems, never a stack trace.
import { parseArgs } from "node:util";
import { FleetError } from "../fleet/errors.js";

const USAGE = `usage: ibu-gitops <command> [options]

commands:
  synth     [-f fleet.yaml|dir]... [-o dir] [--templates dir] [--check] [--allow-any-stage-move]
            write each fleet's hub manifests to <dir>/<fleet name>/ (default -f examples, -o policies);
            --check writes nothing and exits 1 with a diff when the folder is stale;
            a group whose stage moves in a way LCA rejects (Idle → Upgrade, Prep → Rollback, ...)
            since the folder was written is an error unless --allow-any-stage-move
  validate  [-f fleet.yaml|dir]...
            report every problem in the fleet files, with file, YAML path and line
  plan      [-f fleet.yaml|dir]... [--output table|markdown|json] [--kubeconfig file]
            show the rollout: groups, stages, CGUs or IBGU plans, batches, timeouts, annotation actions;
            with --kubeconfig, resolve group selectors against the hub's ManagedClusters (read-only)
  seed build --sysroot dir --version v --image registry/repo:tag [--stateroot name]
            [--cluster-info file.json] [--images-file file] [--tls-verify=false] [--authfile file]
            build a seed image (LCA format 4) from a stateroot and push it
  agent     [--kubeconfig file] [--sysroot /sysroot] [--boot host|sandbox] [--insecure-registry host:port]...
            [--image-store dir] [--namespace openshift-lifecycle-agent] [--etcd path]
            [--hub-kubeconfig file --cluster-name name]
            run the spoke agent: serve the ImageBasedUpgrade API and do each stage's node work;
            without --kubeconfig it uses its pod's ServiceAccount; with a hub kubeconfig (HUB_KUBECONFIG)
            and cluster name (CLUSTER_NAME) it reports to the hub
  stage     <Idle|Prep|Upgrade|Rollback> (--context name... | --all-contexts) [--kubeconfig file]
            [--seed-image image --seed-version v [--pull-secret name]] [--partial] [--wait [--timeout 60m]]
            move clusters to a stage the documented manual way (spec.stage of each ImageBasedUpgrade),
            after checking each cluster's validNextStages; nothing changes unless every move is
            allowed (--partial moves the others); --wait follows the stage with a progress bar
  status    [--kubeconfig hub.kubeconfig] [--context name] [--output table|json] [--stuck-after 30m]
            [--cluster-selector label-selector]
            the fleet from the hub (read-only): clusters per stage and state, per group with a
            progress bar, failed, stuck and automatically rolled-back clusters
  demo      [--spokes 2] [--exit-when-done] [--listen 127.0.0.1:0] [--result-file f.json] [--verbose]
            the whole system on this machine: hub and spokes (real apiservers), a registry with a
            seed built on the fly, an agent per spoke, the hub controller and dashboard; walks the
            fleet Prep → Upgrade → finalize with a cancel and a rollback; Ctrl-C stops everything
  hub       [--kubeconfig file] [--namespace ibu-gitops] [--listen :8443] [--tls-cert file --tls-key file]
            [--stuck-after 30m] [--leader-elect] [--cluster-selector label-selector]
            run the hub controller: own the disable-auto-import annotation, serve the JSON API,
            the event stream and /metrics (docs/hub.md)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === "-h" || command === "--help" || command === "help") {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      file: { type: "string", short: "f", multiple: true },
      out: { type: "string", short: "o" },
      templates: { type: "string" },
      check: { type: "boolean", default: false },
      "allow-any-stage-move": { type: "boolean", default: false },
      output: { type: "string" },
      kubeconfig: { type: "string" },
      sysroot: { type: "string" },
      version: { type: "string" },
      image: { type: "string" },
      stateroot: { type: "string" },
      "cluster-info": { type: "string" },
      "images-file": { type: "string" },
      "tls-verify": { type: "string", default: "true" },
      authfile: { type: "string" },
      boot: { type: "string", default: "host" },
      "insecure-registry": { type: "string", multiple: true },
      "image-store": { type: "string" },
      namespace: { type: "string" },
      listen: { type: "string" },
      "tls-cert": { type: "string" },
      "tls-key": { type: "string" },
      "stuck-after": { type: "string" },
      "leader-elect": { type: "boolean", default: false },
      "cluster-selector": { type: "string" },
      "hub-kubeconfig": { type: "string" },
      spokes: { type: "string", default: "2" },
      "exit-when-done": { type: "boolean", default: false },
      "result-file": { type: "string" },
      verbose: { type: "boolean", default: false },
      context: { type: "string", multiple: true },
      "all-contexts": { type: "boolean", default: false },
      "seed-image": { type: "string" },
      "seed-version": { type: "string" },
      "pull-secret": { type: "string" },
      partial: { type: "boolean", default: false },
      wait: { type: "boolean", default: false },
      timeout: { type: "string", default: "60m" },
      "cluster-name": { type: "string" },
      etcd: { type: "string" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (command !== "seed" && command !== "stage" && positionals.length) {
    throw new Error(
      `unexpected argument ${JSON.stringify(positionals[0])} (fleet files go after -f)`,
    );
  }
  const files = values.file?.length ? values.file : ["examples"];
  const log = (s: string): void => void process.stderr.write(`${s}\n`);
  switch (command) {
    case "synth": {
      const { runSynth } = await import("./synth.js");
      return runSynth(
        {
          files,
          out: values.out ?? "policies",
          templates: values.templates,
          check: values.check ?? false,
        },
        log,
      );
    }
    case "validate": {
      const { runValidate } = await import("./validate.js");
      return runValidate(files, log);
    }
    case "plan": {
      // Loaded on demand: the Kubernetes client takes longer to load than synth takes to run.
      const { runPlan } = await import("./plan.js");
      return runPlan(
        { files, output: values.output ?? "table", kubeconfig: values.kubeconfig },
        s => void process.stdout.write(s),
      );
    }
    case "seed": {
      if (positionals[0] !== "build")
        throw new Error(
          `unknown seed subcommand ${JSON.stringify(positionals[0] ?? "")}; try: seed build`,
        );
      const { runSeedBuild } = await import("./seed.js");
      return runSeedBuild(
        {
          sysroot: values.sysroot,
          version: values.version,
          image: values.image,
          stateroot: values.stateroot,
          clusterInfo: values["cluster-info"],
          imagesFile: values["images-file"],
          tlsVerify: values["tls-verify"] !== "false",
          authfile: values.authfile,
        },
        log,
      );
    }
    case "agent": {
      const { runAgent } = await import("./agent.js");
      return runAgent(
        {
          kubeconfig: values.kubeconfig,
          sysroot: values.sysroot ?? "/sysroot",
          boot: values.boot ?? "host",
          insecureRegistries: values["insecure-registry"] ?? [],
          imageStore: values["image-store"],
          namespace: values.namespace,
          hubKubeconfig: values["hub-kubeconfig"],
          clusterName: values["cluster-name"],
          etcd: values.etcd,
        },
        log,
      );
    }
    case "stage": {
      if (positionals.length > 1)
        throw new Error(`stage takes one stage, not ${positionals.join(" ")}`);
      const { runStage } = await import("./stage.js");
      return runStage(
        {
          stage: positionals[0],
          kubeconfig: values.kubeconfig,
          contexts: values.context ?? [],
          allContexts: values["all-contexts"] ?? false,
          seedImage: values["seed-image"],
          seedVersion: values["seed-version"],
          pullSecret: values["pull-secret"],
          partial: values.partial ?? false,
          wait: values.wait ?? false,
          timeout: values.timeout ?? "60m",
        },
        s => void process.stdout.write(s),
      );
    }
    case "status": {
      const { runStatus } = await import("./status.js");
      return runStatus(
        {
          kubeconfig: values.kubeconfig,
          context: values.context?.[0],
          output: values.output ?? "table",
          stuckAfter: values["stuck-after"] ?? "30m",
          clusterSelector: values["cluster-selector"],
        },
        s => void process.stdout.write(s),
      );
    }
    case "demo": {
      const { runDemo } = await import("./demo.js");
      return runDemo(
        {
          spokes: values.spokes ?? "2",
          exitWhenDone: values["exit-when-done"] ?? false,
          listen: values.listen,
          resultFile: values["result-file"],
          verbose: values.verbose ?? false,
        },
        s => void process.stdout.write(s),
      );
    }
    case "hub": {
      const { runHub } = await import("./hub.js");
      return runHub(
        {
          kubeconfig: values.kubeconfig,
          namespace: values.namespace,
          listen: values.listen,
          tlsCert: values["tls-cert"],
          tlsKey: values["tls-key"],
          stuckAfter: values["stuck-after"],
          leaderElect: values["leader-elect"] ?? false,
          clusterSelector: values["cluster-selector"],
        },
        log,
      );
    }
    default:
      log(`ibu-gitops: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  code => process.exit(code),
  (err: unknown) => {
    if (err instanceof FleetError) process.stderr.write(`${err.message}\n`);
    else if (
      err instanceof TypeError &&
      (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")
    ) {
      process.stderr.write(`ibu-gitops: ${err.message}\n\n${USAGE}`);
      process.exit(2);
    } else process.stderr.write(`ibu-gitops: ${(err as Error).message ?? String(err)}\n`);
    process.exit(1);
  },
);
