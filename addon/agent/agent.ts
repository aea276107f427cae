// The agent's run loop: watches the IBU, reconciles through a coalescing queue (one reconcile
// at a time, like LCA's single worker), retries with backoff on errors, and resyncs
// periodically so node state that changed without an API event is noticed.
import { CoalescingQueue, sleep, watchCollection, type KubeApi } from "../shared/kube.js";
import { toLogger, type Logger, type LogSink } from "../shared/log.js";
import { IBU_PATH, IbuController } from "./controller.js";
import type { Node } from "./node.js";
import type { HubReporter } from "./report.js";

export interface AgentOptions {
  readonly api: KubeApi;
  readonly node: Node;
  readonly namespace?: string;
  /** Resync even without events. @default 30 s */
  readonly resyncSeconds?: number;
  /** Stage changes at info, retried failures at warn. @default silent */
  readonly log?: LogSink;
  /** Reports every change of the IBU to the hub (absent when the agent runs without a hub). */
  readonly reporter?: HubReporter;
  /** See ControllerOptions. @default 300 */
  readonly backupDeletionTimeoutSeconds?: number;
}

export class Agent {
  readonly controller: IbuController;
  private readonly queue: CoalescingQueue;
  private readonly log: Logger;

  constructor(private readonly opts: AgentOptions) {
    this.log = toLogger(opts.log);
    this.controller = new IbuController({
      api: opts.api,
      node: opts.node,
      namespace: opts.namespace,
      log: this.log,
      backupDeletionTimeoutSeconds: opts.backupDeletionTimeoutSeconds,
      onChange: ibu => void opts.reporter?.update(ibu, this.signal),
    });
    this.queue = new CoalescingQueue((key, err) =>
      this.log.error({ key, err }, `reconcile ${key} failed`),
    );
  }

  private signal: AbortSignal | undefined;

  /** Runs until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    this.signal = signal;
    const kick = (): void => void this.kick(signal);
    const watch = watchCollection(
      this.opts.api,
      `${IBU_PATH}?fieldSelector=metadata.name%3Dupgrade`,
      kick,
      signal,
      { log: this.log },
    );
    const resync = (async () => {
      while (!signal.aborted) {
        await sleep((this.opts.resyncSeconds ?? 30) * 1000, signal);
        kick();
      }
    })();
    kick();
    await Promise.all([watch, resync, this.opts.reporter?.run(signal)]);
  }

  /** Reconciles now (or once more after the current reconcile), until no work remains. */
  kick(signal?: AbortSignal): Promise<void> {
    return this.queue.enqueue("upgrade", async () => {
      let backoff = 500;
      for (;;) {
        if (signal?.aborted) return;
        try {
          if (!(await this.controller.reconcile())) return;
          backoff = 500;
          await sleep(1000, signal); // work remains (waiting on Velero, say): look again shortly
        } catch (err) {
          this.log.warn({ err, backoffMs: backoff }, `reconcile failed; retrying in ${backoff} ms`);
          await sleep(backoff, signal);
          backoff = Math.min(backoff * 2, 30_000);
        }
      }
    });
  }
}
