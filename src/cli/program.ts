// The `ibu-gitops` commands and their flags, on commander: each command declares its own flags
// (and refuses any other) and its `--help`, and loads its implementation only when it runs.
import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { FleetError } from "../fleet/errors.js";
import { FORMATS, UsageError } from "./common.js";
import { shutdownSignal } from "./signals.js";

// The option values commander hands each action (camel-cased flag names).
interface FileOpts {
  file: string[];
  output: string;
}
type ValidateOpts = FileOpts & { outputDir: string; templates?: string };
type SynthOpts = FileOpts & {
  outputDir: string;
  templates?: string;
  check?: true;
  allowAnyStageMove?: true;
};
type PlanOpts = FileOpts & { outputDir: string; kubeconfig?: string; context?: string };
interface SeedOpts {
  sysroot: string;
  version: string;
  image: string;
  stateroot?: string;
  clusterInfo?: string;
  imagesFile?: string;
  tlsVerify: string;
  authfile?: string;
}
interface AgentOpts {
  kubeconfig?: string;
  sysroot: string;
  boot: string;
  insecureRegistry: string[];
  imageStore?: string;
  namespace?: string;
  etcd?: string;
  hubKubeconfig?: string;
  clusterName?: string;
}
interface StageOpts {
  kubeconfig?: string;
  context: string[];
  allContexts?: true;
  seedImage?: string;
  seedVersion?: string;
  pullSecret?: string;
  partial?: true;
  wait?: true;
  timeout: string;
}
interface StatusOpts {
  kubeconfig?: string;
  context?: string;
  output: string;
  stuckAfter: string;
  clusterSelector?: string;
  watch?: true;
  interval: string;
}
interface DemoOpts {
  spokes: string;
  driver: "gitops" | "stage";
  exitWhenDone?: true;
  listen?: string;
  resultFile?: string;
  verbose?: true;
  pace: string;
}
interface HubOpts {
  kubeconfig?: string;
  namespace?: string;
  listen: string;
  tlsCert?: string;
  tlsKey?: string;
  stuckAfter: string;
  leaderElect?: true;
  clusterSelector?: string;
}

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `-f` files or folders, repeatable; `examples` when none is given. */
const fileOption = (): Option =>
  new Option("-f, --file <path>", "fleet file or folder of fleet files (repeatable)")
    .argParser(collect)
    .default([], "examples");

const files = (o: FileOpts): string[] => (o.file.length ? o.file : ["examples"]);

const outputOption = (formats: readonly string[] = FORMATS): Option =>
  new Option("-o, --output <format>", "output format").choices(formats).default("table");

const kubeconfigOption = (what: string): Option =>
  new Option("--kubeconfig <file>", `${what} (default: $KUBECONFIG, then ~/.kube/config)`);

const write = (s: string): void => void process.stdout.write(s);
const log = (s: string): void => void process.stderr.write(`${s}\n`);

/** `synth -o <folder>` was the output folder before `-o` meant the format, as in kubectl. */
function synthFormat(value: string): string {
  if ((FORMATS as readonly string[]).includes(value)) return value;
  throw new InvalidArgumentError(
    `-o is the output format (${FORMATS.join(", ")}); for the output folder use --output-dir ${value}`,
  );
}

/** `demo --spokes`: a usage error (exit 2) before anything loads or starts. */
function spokeCount(value: string): string {
  const n = Number(value);
  if (/^\d+$/.test(value) && n >= 1 && n <= 20) return value;
  throw new InvalidArgumentError("a whole number from 1 to 20");
}

function packageVersion(): string {
  const url = new URL("../../package.json", import.meta.url);
  // From dist/src/cli/ the package.json is one level further up.
  for (const u of [url, new URL("../../../package.json", import.meta.url)]) {
    try {
      return (JSON.parse(readFileSync(u, "utf8")) as { version: string }).version;
    } catch {
      // try the next
    }
  }
  return "unknown";
}

/**
 * The program: commands, flags, help. A command's action sets `exit.code` to the exit code its
 * implementation returns; commander throws a CommanderError for help, --version and usage errors.
 */
export function program(exit: { code: number }): Command {
  const p = new Command("ibu-gitops")
    .description(
      "Step fleets of single-node OpenShift clusters through an image-based upgrade with GitOps, ACM and TALM",
    )
    .version(packageVersion(), "--version", "print the version")
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError("(ibu-gitops <command> --help shows the command's flags)")
    .configureOutput({
      outputError: (str, w) => w(`ibu-gitops: ${str.replace(/^error: /, "")}`),
    });

  p.command("synth")
    .description(
      "write each fleet's hub manifests to <output-dir>/<fleet name>/; --check writes nothing and exits 1 with a diff when a folder is stale",
    )
    .addOption(fileOption())
    .option("--output-dir <dir>", "folder of the fleets' output folders", "policies")
    .addOption(
      new Option("-o, --output <format>", `output format: ${FORMATS.join(", ")}`)
        .argParser(synthFormat)
        .default("table"),
    )
    .option("--templates <dir>", "a folder of source-CR templates overriding the built-in ones")
    .option("--check", "write nothing; exit 1 with a diff when an output folder is stale")
    .option(
      "--allow-any-stage-move",
      "allow a group's stage to move in a way LCA rejects (Idle → Upgrade, Prep → Rollback, ...)",
    )
    .action(async (o: SynthOpts) => {
      const { runSynth } = await import("./synth.js");
      exit.code = runSynth(
        {
          files: files(o),
          out: o.outputDir,
          output: o.output,
          templates: o.templates,
          check: !!o.check,
          allowAnyStageMove: !!o.allowAnyStageMove,
        },
        log,
        write,
      );
    });

  p.command("validate")
    .description(
      "report every problem in the fleet files, with file, YAML path and line: everything synth would refuse against the output in <output-dir>, including objects two fleets would both generate",
    )
    .addOption(fileOption())
    .option("--output-dir <dir>", "folder of the fleets' output folders", "policies")
    .addOption(outputOption())
    .option("--templates <dir>", "a folder of source-CR templates overriding the built-in ones")
    .action(async (o: ValidateOpts) => {
      const { runValidate } = await import("./synth.js");
      exit.code = runValidate(
        { files: files(o), out: o.outputDir, templates: o.templates, output: o.output },
        log,
        write,
      );
    });

  p.command("plan")
    .description(
      "what each commit's CGUs or IBGU will do: batches, what each timeout bounds, the worst-case window, completed steps, auto-import actions",
    )
    .addOption(fileOption())
    .option(
      "--output-dir <dir>",
      "folder of the fleets' output folders: a fleet synth would refuse against it is an error",
      "policies",
    )
    .addOption(outputOption([...FORMATS, "markdown"]))
    .addOption(kubeconfigOption("hub kubeconfig: resolve selectors and read the upgrades' status"))
    .option("--context <name>", "kubeconfig context")
    .action(async (o: PlanOpts) => {
      const { runPlan } = await import("./plan.js");
      exit.code = await runPlan(
        {
          files: files(o),
          output: o.output,
          kubeconfig: o.kubeconfig,
          context: o.context,
          out: o.outputDir,
        },
        write,
      );
    });

  p.command("seed")
    .description("seed images")
    .command("build")
    .description("build a seed image (LCA format 4) from a stateroot and push it")
    .requiredOption("--sysroot <dir>", "the seed cluster's sysroot")
    .requiredOption("--version <v>", "the seed's OpenShift version")
    .requiredOption("--image <ref>", "where to push: registry/repo:tag")
    .option("--stateroot <name>", "the stateroot to build from (default: the booted one)")
    .option("--cluster-info <file>", "seed cluster information (JSON)")
    .option("--images-file <file>", "images to precache, one a line")
    .addOption(
      new Option("--tls-verify <bool>", "verify the registry's certificate")
        .choices(["true", "false"])
        .default("true"),
    )
    .option("--authfile <file>", "registry credentials (containers-auth.json)")
    .action(async (o: SeedOpts) => {
      const { runSeedBuild } = await import("./seed.js");
      exit.code = await runSeedBuild(
        {
          sysroot: o.sysroot,
          version: o.version,
          image: o.image,
          stateroot: o.stateroot,
          clusterInfo: o.clusterInfo,
          imagesFile: o.imagesFile,
          tlsVerify: o.tlsVerify !== "false",
          authfile: o.authfile,
        },
        log,
      );
    });

  p.command("agent")
    .description(
      "run the spoke agent: serve the ImageBasedUpgrade API and do each stage's node work; with a hub kubeconfig and cluster name it reports to the hub",
    )
    .addOption(kubeconfigOption("the spoke's kubeconfig (default in a pod: its ServiceAccount)"))
    .option("--sysroot <dir>", "the host's sysroot", "/sysroot")
    .addOption(
      new Option("--boot <driver>", "boot driver").choices(["host", "sandbox"]).default("host"),
    )
    .option(
      "--insecure-registry <host:port>",
      "a registry reached without TLS (repeatable)",
      collect,
      [],
    )
    .option("--image-store <dir>", "container store for precached images")
    .option("-n, --namespace <ns>", "the agent's namespace (default: openshift-lifecycle-agent)")
    .option("--etcd <path>", "etcd executable for the seed's etcd data")
    .option("--hub-kubeconfig <file>", "the addon's hub kubeconfig (default: $HUB_KUBECONFIG)")
    .option("--cluster-name <name>", "this ManagedCluster's name (default: $CLUSTER_NAME)")
    .action(async (o: AgentOpts) => {
      const { runAgent } = await import("./agent.js");
      exit.code = await runAgent({
        kubeconfig: o.kubeconfig,
        sysroot: o.sysroot,
        boot: o.boot,
        insecureRegistries: o.insecureRegistry,
        imageStore: o.imageStore,
        namespace: o.namespace,
        hubKubeconfig: o.hubKubeconfig,
        clusterName: o.clusterName,
        etcd: o.etcd,
      });
    });

  p.command("stage")
    .description(
      "move clusters to a stage the documented manual way (spec.stage), after checking each cluster's validNextStages; nothing changes unless every move is allowed",
    )
    .argument("<stage>", "Idle, Prep, Upgrade or Rollback")
    .addOption(kubeconfigOption("kubeconfig with a context per cluster"))
    .option("--context <name>", "a cluster's kubeconfig context (repeatable)", collect, [])
    .option("--all-contexts", "every context in the kubeconfig")
    .option("--seed-image <image>", "Prep: the seed image")
    .option("--seed-version <v>", "Prep: the seed's OpenShift version")
    .option("--pull-secret <name>", "Prep: Secret with the seed's pull secret")
    .option("--partial", "move the clusters that may move even when others may not")
    .option("--wait", "follow the stage to its end with a progress bar")
    .option("--timeout <duration>", "with --wait: how long to follow", "60m")
    .action(async (stage: string, o: StageOpts) => {
      const { runStage } = await import("./stage.js");
      exit.code = await runStage(
        {
          stage,
          kubeconfig: o.kubeconfig,
          contexts: o.context,
          allContexts: !!o.allContexts,
          seedImage: o.seedImage,
          seedVersion: o.seedVersion,
          pullSecret: o.pullSecret,
          partial: !!o.partial,
          wait: !!o.wait,
          timeout: o.timeout,
        },
        write,
      );
    });

  p.command("status")
    .description(
      "the fleet from the hub (read-only): progress per group and batch, versions, and the clusters that need attention",
    )
    .addOption(kubeconfigOption("hub kubeconfig"))
    .option("--context <name>", "kubeconfig context")
    .addOption(outputOption())
    .option("--stuck-after <duration>", "no progress for this long is stuck", "30m")
    .option("-l, --cluster-selector <selector>", "only ManagedClusters with these labels")
    .option("-w, --watch", "redraw as the fleet changes, until Ctrl-C")
    .option("--interval <duration>", "with --watch: how often to read the hub", "5s")
    .action(async (o: StatusOpts) => {
      const { runStatus } = await import("./status.js");
      exit.code = await runStatus(
        {
          kubeconfig: o.kubeconfig,
          context: o.context,
          output: o.output,
          stuckAfter: o.stuckAfter,
          clusterSelector: o.clusterSelector,
          watch: !!o.watch,
          interval: o.interval,
          signal: o.watch ? shutdownSignal() : undefined,
        },
        write,
      );
    });

  p.command("demo")
    .description(
      "the whole system on this machine: hub and spokes (real apiservers), the real hub stack (ACM governance, OCM, TALM, Argo CD), a seed registry, agents, the hub controller and dashboard; the fleet rolled out as Git commits that Argo CD syncs (--driver stage: with `ibu-gitops stage`, no hub stack); Ctrl-C stops everything",
    )
    .addOption(
      new Option("--spokes <n>", "number of spokes (1-20)").default("2").argParser(spokeCount),
    )
    .addOption(
      new Option(
        "--driver <driver>",
        "gitops: Git commits of the fleet file, synced by Argo CD through the real hub stack (TALM, ACM governance, OCM); stage: `ibu-gitops stage` runs against the spokes",
      )
        .choices(["gitops", "stage"])
        .default("gitops"),
    )
    .option("--exit-when-done", "stop everything once the walk is done")
    .option("--listen <host:port>", "the dashboard's address (default 127.0.0.1:0)")
    .option("--result-file <file>", "write the end state as JSON here")
    .option("--verbose", "agent and controller logs")
    .option(
      "--pace <duration>",
      "pause after each step (a commit's CGUs finished, a stage run) to follow it on the dashboard; 0s for none",
      "5s",
    )
    .action(async (o: DemoOpts) => {
      const { runDemo } = await import("./demo.js");
      exit.code = await runDemo(
        {
          spokes: o.spokes,
          driver: o.driver,
          exitWhenDone: !!o.exitWhenDone,
          listen: o.listen,
          resultFile: o.resultFile,
          verbose: !!o.verbose,
          pace: o.pace,
        },
        write,
      );
    });

  p.command("hub")
    .description(
      "run the hub controller: own the disable-auto-import annotation, serve the dashboard, the JSON API, the event stream and /metrics",
    )
    .addOption(kubeconfigOption("hub kubeconfig (default in a pod: its ServiceAccount)"))
    .option(
      "-n, --namespace <ns>",
      "the controller's namespace (default: $POD_NAMESPACE, then ibu-gitops)",
    )
    .option("--listen <address>", "host:port, :port or port", ":8443")
    .option("--tls-cert <file>", "serving certificate (with --tls-key; else plain HTTP)")
    .option("--tls-key <file>", "serving key")
    .option("--stuck-after <duration>", "no progress for this long is stuck", "30m")
    .option("--leader-elect", "only the Lease holder writes")
    .option("-l, --cluster-selector <selector>", "only ManagedClusters with these labels")
    .action(async (o: HubOpts) => {
      const { runHub } = await import("./hub.js");
      exit.code = await runHub({
        kubeconfig: o.kubeconfig,
        namespace: o.namespace,
        listen: o.listen,
        tlsCert: o.tlsCert,
        tlsKey: o.tlsKey,
        stuckAfter: o.stuckAfter,
        leaderElect: !!o.leaderElect,
        clusterSelector: o.clusterSelector,
        signal: shutdownSignal(),
      });
    });
  // Messages and hints name the command they are about: `ibu-gitops status: unknown option ...`.
  for (const c of [...p.commands, ...p.commands.flatMap(x => x.commands)]) {
    const name =
      c.parent && c.parent !== p
        ? `ibu-gitops ${c.parent.name()} ${c.name()}`
        : `ibu-gitops ${c.name()}`;
    c.showHelpAfterError(`(${name} --help shows its flags)`).configureOutput({
      outputError: (str, w) => w(`${name}: ${str.replace(/^error: /, "")}`),
    });
  }
  return p;
}

/**
 * Runs the command line and resolves to the exit code: 0 success, 1 failure, 2 usage (a
 * command or flag it does not know, a bad value, a missing argument), as kubectl does.
 * `err` receives what goes to stderr besides commander's own messages.
 */
export async function main(
  argv: readonly string[],
  err: (s: string) => void = s => void process.stderr.write(s),
): Promise<number> {
  const exit = { code: 0 };
  const p = program(exit);
  if (argv.length === 0) {
    err(p.helpInformation());
    return 2;
  }
  try {
    await p.parseAsync(argv, { from: "user" });
    return exit.code;
  } catch (e) {
    return exitCode(e, argv, err);
  }
}

function exitCode(e: unknown, argv: readonly string[], err: (s: string) => void): number {
  if (e instanceof CommanderError) {
    // Help and --version asked for are answers; help shown for a missing subcommand is a
    // usage error. Commander has printed the message itself.
    if (e.code === "commander.version" || e.code === "commander.helpDisplayed") return 0;
    if (e.code === "commander.help") return e.exitCode === 0 ? 0 : 2;
    return 2;
  }
  const command = argv.find(a => !a.startsWith("-")) ?? "";
  if (e instanceof UsageError) {
    err(
      `ibu-gitops ${command}: ${e.message}\n(ibu-gitops ${command} --help shows the command's flags)\n`,
    );
    return 2;
  }
  if (e instanceof FleetError) err(`${e.message}\n`);
  else err(`ibu-gitops ${command}: ${(e as Error)?.message ?? String(e)}\n`);
  return 1;
}
