// `ibu-gitops stage`: moves clusters to a stage by hand, the documented manual way (set
// spec.stage on each cluster's ImageBasedUpgrade), for teams without TALM. Every cluster is
// checked first against its validNextStages; by default nothing changes unless every move is
// allowed. `--wait` follows the stage to its end with a progress bar.
import { STAGES, type Ibu, type Stage } from "../../addon/agent/ibu-types.js";
import { IBU_PATH } from "../../addon/agent/controller.js";
import { ApiError, KubeApi, sleep } from "../../addon/shared/kube.js";
import { kubeconfigContexts, loadKubeconfig } from "../../addon/shared/kubeconfig.js";
import { stageMessage, stageState, type StageState } from "../../addon/shared/report.js";
import { kubeconfigPath, UsageError } from "./common.js";
import { parseDurationFlag, progressLine } from "./progress.js";

export interface StageArgs {
  readonly stage: string | undefined;
  readonly kubeconfig?: string;
  readonly contexts: readonly string[];
  readonly allContexts: boolean;
  readonly seedImage?: string;
  readonly seedVersion?: string;
  readonly pullSecret?: string;
  /** Move the clusters that may move even when others may not. */
  readonly partial: boolean;
  readonly wait: boolean;
  readonly timeout: string;
}

interface Target {
  readonly context: string;
  readonly api: KubeApi;
  ibu?: Ibu;
  refusal?: string;
  note?: string;
}

const IBU = `${IBU_PATH}/upgrade`;

export async function runStage(
  a: StageArgs,
  write: (s: string) => void,
  tty = process.stdout.isTTY,
): Promise<number> {
  const stage = a.stage as Stage;
  if (!STAGES.includes(stage))
    throw new UsageError(
      `${a.stage === undefined ? "the stage is missing" : `${JSON.stringify(a.stage)} is not a stage`}: give one of ${STAGES.join(", ")}`,
    );
  if (a.allContexts && a.contexts.length)
    throw new UsageError("--context and --all-contexts exclude each other");
  if (!a.allContexts && !a.contexts.length)
    throw new UsageError("name the clusters: --context <name> (repeatable) or --all-contexts");
  if (!!a.seedImage !== !!a.seedVersion)
    throw new UsageError("--seed-image and --seed-version go together");
  const file = kubeconfigPath(a.kubeconfig);
  const contexts = a.allContexts ? kubeconfigContexts(file) : [...a.contexts];
  if (!contexts.length) throw new Error(`kubeconfig ${file} has no contexts`);
  const timeoutMs = parseDurationFlag(a.timeout, "--timeout");
  const targets: Target[] = contexts.map(context => ({
    context,
    api: new KubeApi(loadKubeconfig(file, context)),
  }));

  // 1. Check every cluster first.
  await Promise.all(targets.map(t => check(t, stage, a)));
  const width = Math.max(...targets.map(t => t.context.length));
  const name = (t: Target): string => t.context.padEnd(width);
  for (const t of targets) {
    const now = t.ibu ? `${t.ibu.spec.stage ?? "Idle"} ${stageState(t.ibu)}` : "unknown";
    if (t.refusal) write(`${name(t)}  ${now} → ${stage}: not allowed: ${t.refusal}\n`);
    else if (t.note) write(`${name(t)}  ${now}: ${t.note}\n`);
  }
  const refused = targets.filter(t => t.refusal);
  if (refused.length && !a.partial) {
    write(
      `nothing changed: ${refused.length} of ${targets.length} cluster(s) may not move to ${stage} (--partial moves the others)\n`,
    );
    return 1;
  }

  // 2. Move the clusters that may move.
  const moving = targets.filter(t => !t.refusal && !t.note);
  await Promise.all(
    moving.map(async t => {
      try {
        await t.api.mergePatch(IBU, { spec: specPatch(stage, a) });
        write(`${name(t)}  ${t.ibu!.spec.stage ?? "Idle"} → ${stage}: requested\n`);
      } catch (err) {
        // The API's own rules (LCA's CEL transition rules) have the last word.
        t.refusal = (err as Error).message;
        write(`${name(t)}  ${stage}: refused by the API: ${t.refusal}\n`);
      }
    }),
  );
  if (stage === "Upgrade" && moving.length)
    write(
      "note: on ACM, a cluster in Upgrade needs import.open-cluster-management.io/disable-auto-import on its ManagedCluster; the ibu-gitops hub controller sets and removes it\n",
    );
  const anyRefused = targets.some(t => t.refusal);
  if (!a.wait) return anyRefused ? 1 : 0;

  // 3. Follow the stage to its end.
  const followed = targets.filter(t => !t.refusal);
  const ok = await follow(followed, stage, timeoutMs, write, tty, name);
  return ok && !anyRefused ? 0 : 1;
}

async function check(t: Target, stage: Stage, a: StageArgs): Promise<void> {
  try {
    t.ibu = await t.api.get<Ibu>(IBU);
  } catch (err) {
    t.refusal = `cannot read its ImageBasedUpgrade: ${(err as Error).message}`;
    return;
  }
  const ibu = t.ibu;
  if (!ibu) {
    t.refusal =
      'no ImageBasedUpgrade "upgrade": is the Lifecycle Agent or the ibu-gitops agent installed?';
    return;
  }
  const current = ibu.spec.stage ?? "Idle";
  const state = stageState(ibu);
  if (current === stage && state !== "Blocked") {
    t.note = `already at ${stage}`;
    return;
  }
  const next = ibu.status?.validNextStages ?? [];
  if (!next.includes(stage)) {
    const why = stageMessage(ibu);
    t.refusal = next.length
      ? `it may move to ${next.join(" or ")} only (${current} ${state}${why ? `: ${why}` : ""})`
      : `it may not move at all while ${current} is ${state}${why ? ` (${why})` : ""}`;
    return;
  }
  if (stage === "Prep" && !a.seedImage && !ibu.spec.seedImageRef?.image)
    t.refusal = "Prep needs a seed: --seed-image and --seed-version";
}

function specPatch(stage: Stage, a: StageArgs): Record<string, unknown> {
  if (stage !== "Prep" || !a.seedImage) return { stage };
  return {
    stage,
    seedImageRef: {
      image: a.seedImage,
      version: a.seedVersion,
      ...(a.pullSecret ? { pullSecretRef: { name: a.pullSecret } } : {}),
    },
  };
}

/** Done when the stage completed (Idle: is Idle), failed, or was refused. */
function finished(s: StageState | "unreachable", stage: Stage): boolean {
  if (stage === "Idle") return s === "Idle" || s === "Failed";
  return s === "Completed" || s === "Failed" || s === "Blocked";
}

async function follow(
  targets: readonly Target[],
  stage: Stage,
  timeoutMs: number,
  write: (s: string) => void,
  tty: boolean,
  name: (t: Target) => string,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const last = new Map<string, string>();
  const states = new Map<string, StageState | "unreachable">();
  for (;;) {
    await Promise.all(
      targets.map(async t => {
        let line: string;
        try {
          const ibu = await t.api.get<Ibu>(IBU);
          if (!ibu) throw new ApiError(404, "no ImageBasedUpgrade");
          const s = (ibu.spec.stage ?? "Idle") === stage ? stageState(ibu) : "Pending";
          states.set(t.context, s);
          line = `${s}${stageMessage(ibu) ? `: ${stageMessage(ibu)}` : ""}`;
        } catch {
          // A cluster rebooting into its new stateroot does not answer for a while.
          states.set(t.context, "unreachable");
          line = "not answering (rebooting?)";
        }
        if (last.get(t.context) !== line) {
          last.set(t.context, line);
          if (!tty) write(`${name(t)}  ${stage} ${line}\n`);
        }
      }),
    );
    const all = [...states.values()];
    const done = all.filter(s => finished(s, stage)).length;
    const failed = all.filter(s => s === "Failed" || s === "Blocked").length;
    if (tty)
      write(
        `\r${progressLine(done - failed, failed, targets.length, `${stage}: ${done - failed} done, ${failed} failed, ${targets.length - done} in progress`)}`,
      );
    if (done === targets.length) {
      if (tty) write("\n");
      for (const t of targets)
        if (["Failed", "Blocked"].includes(states.get(t.context) ?? ""))
          write(`${name(t)}  ${stage} ${last.get(t.context) ?? ""}\n`);
      return failed === 0;
    }
    if (Date.now() > deadline) {
      if (tty) write("\n");
      write(`timed out: ${targets.length - done} cluster(s) not finished with ${stage}\n`);
      return false;
    }
    await sleep(tty ? 1000 : 2000);
  }
}
