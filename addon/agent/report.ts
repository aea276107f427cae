// Agent → hub reporting: after every change of the IBU the agent writes its cluster's
// ClusterUpgrade report (addon/crds/, addon/shared/report.ts) in the cluster's namespace on
// the hub, and mirrors stage and state into a condition of its own on its ManagedClusterAddOn
// for the ACM console. Writes are coalesced (only the latest state is sent), retried with
// backoff while the hub is unreachable, and repeated as a heartbeat so the hub can tell a
// silent agent from an idle one. The hub kubeconfig's files are re-read on every request, so
// the certificates ACM rotates are picked up.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ApiError, CoalescingQueue, sleep, type KubeApi } from "../shared/kube.js";
import { toLogger, type Logger, type LogSink } from "../shared/log.js";
import {
  ADDON_CONDITION,
  ADDON_NAME,
  autoImportIntent,
  autoRolledBack,
  REPORT_GROUP,
  REPORT_NAME,
  REPORT_VERSION,
  reportPath,
  stageMessage,
  stageState,
  type ClusterUpgrade,
  type Report,
} from "../shared/report.js";
import { usagePercent } from "./drivers/disk.js";
import type { Ibu } from "./ibu-types.js";
import type { Node } from "./node.js";
import type { PrecacheStatus } from "./stages/prep.js";

export const AGENT_VERSION = "0.1.0";

export interface ReporterOptions {
  readonly hub: KubeApi;
  readonly clusterName: string;
  readonly node: Node;
  /** Report again after this long without a change. @default 300 s */
  readonly heartbeatSeconds?: number;
  /** Failed writes at warn, each report written at debug. @default silent */
  readonly log?: LogSink;
}

/** The report of one cluster, from its IBU and its node. */
export function buildReport(
  clusterName: string,
  ibu: Ibu,
  node: Node,
  sequence: number,
  now = new Date(),
): Report {
  const state = stageState(ibu);
  const report: Report = {
    clusterName,
    agentVersion: AGENT_VERSION,
    reportTime: now.toISOString().replace(/\.\d{3}Z$/, "Z"),
    sequence,
    stage: ibu.spec.stage ?? "Idle",
    state,
    message: stageMessage(ibu).slice(0, 4096),
    autoRolledBack: autoRolledBack(ibu),
    autoImport: autoImportIntent(ibu),
    ibu: {
      ...(ibu.metadata.generation !== undefined ? { generation: ibu.metadata.generation } : {}),
      spec: ibu.spec,
      ...(ibu.status ? { status: ibu.status } : {}),
    },
  };
  try {
    const facts: NonNullable<Report["node"]> = {
      bootedStateroot: node.booted().stateroot,
      stateroots: node.ostree.stateroots().slice(0, 16),
    };
    const store = node.store().root;
    if (existsSync(store)) facts.containerStorageUsedPercent = Math.round(usagePercent(store));
    const precache = join(node.workspace(), "precache_status.json");
    if (existsSync(precache)) {
      const p = JSON.parse(readFileSync(precache, "utf8")) as PrecacheStatus;
      facts.precache = { total: p.total, pulled: p.pulled, failed: p.failed };
    }
    report.node = facts;
  } catch {
    // Node facts are best effort: a report without them still tells the stage.
  }
  return report;
}

export class HubReporter {
  private latest: Ibu | undefined;
  private sequence = 0;
  private lastSent = "";
  private lastSentAt = 0;
  private readonly queue: CoalescingQueue;
  private readonly log: Logger;

  constructor(private readonly opts: ReporterOptions) {
    this.log = toLogger(opts.log);
    this.queue = new CoalescingQueue();
  }

  /** The IBU changed: report it (coalesced with any report still on its way). */
  update(ibu: Ibu, signal?: AbortSignal): Promise<void> {
    this.latest = ibu;
    return this.queue.enqueue("report", () => this.flush(signal));
  }

  /** Heartbeats until `signal` aborts: the report is rewritten when nothing changed for a while. */
  async run(signal: AbortSignal): Promise<void> {
    const every = (this.opts.heartbeatSeconds ?? 300) * 1000;
    while (!signal.aborted) {
      await sleep(Math.min(every, 30_000), signal);
      if (this.latest && Date.now() - this.lastSentAt >= every) {
        this.lastSent = ""; // forces a write with a fresh reportTime
        await this.update(this.latest, signal);
      }
    }
  }

  private async flush(signal?: AbortSignal): Promise<void> {
    let backoff = 500;
    for (;;) {
      const ibu = this.latest;
      if (!ibu || signal?.aborted) return;
      const key = JSON.stringify([ibu.spec, ibu.status, ibu.metadata.generation]);
      if (key === this.lastSent) return;
      try {
        const report = buildReport(this.opts.clusterName, ibu, this.opts.node, ++this.sequence);
        await this.writeReport(report);
        await this.writeAddonCondition(report).catch((err: unknown) =>
          this.log.warn({ err }, "addon condition not written"),
        );
        this.log.debug(
          { sequence: report.sequence, stage: report.stage, state: report.state },
          "report written to the hub",
        );
        this.lastSent = key;
        this.lastSentAt = Date.now();
        if (this.latest === ibu) return;
      } catch (err) {
        this.log.warn(
          { err, backoffMs: backoff },
          `report to the hub failed; retrying in ${backoff} ms`,
        );
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, 60_000);
      }
    }
  }

  private async writeReport(report: Report): Promise<void> {
    const { hub, clusterName } = this.opts;
    const path = reportPath(clusterName);
    for (let attempt = 0; ; attempt++) {
      const existing = await hub.get<ClusterUpgrade>(path);
      const body: ClusterUpgrade = {
        apiVersion: `${REPORT_GROUP}/${REPORT_VERSION}`,
        kind: "ClusterUpgrade",
        metadata: {
          name: REPORT_NAME,
          namespace: clusterName,
          ...(existing ? { resourceVersion: existing.metadata.resourceVersion } : {}),
        },
        report,
      };
      try {
        if (existing) await hub.replace(path, body);
        else await hub.create(reportPath(clusterName, ""), body);
        return;
      } catch (err) {
        // Someone else wrote in between (an earlier agent process): read again and rewrite.
        if (!(err instanceof ApiError && err.status === 409) || attempt >= 3) throw err;
      }
    }
  }

  /** Our condition on the ManagedClusterAddOn, keeping every other condition as it is. */
  private async writeAddonCondition(report: Report): Promise<void> {
    const { hub, clusterName } = this.opts;
    const path = `/apis/addon.open-cluster-management.io/v1alpha1/namespaces/${encodeURIComponent(clusterName)}/managedclusteraddons/${ADDON_NAME}`;
    type Mca = {
      metadata: { resourceVersion?: string };
      status?: {
        conditions?: Array<{
          type: string;
          status: string;
          reason: string;
          message: string;
          lastTransitionTime: string;
        }>;
      };
    };
    for (let attempt = 0; ; attempt++) {
      const mca = await hub.get<Mca>(path);
      if (!mca) return; // installed without OCM's addon framework (tests, the demo)
      const status = report.state === "Failed" || report.state === "Blocked" ? "False" : "True";
      const reason = `${report.stage}${report.state}`;
      const message =
        `${report.stage}: ${report.state}${report.message ? ` — ${report.message}` : ""}`.slice(
          0,
          32_000,
        );
      const conditions = mca.status?.conditions ?? [];
      const old = conditions.find(c => c.type === ADDON_CONDITION);
      if (old && old.status === status && old.reason === reason && old.message === message) return;
      const next = {
        type: ADDON_CONDITION,
        status,
        reason,
        message,
        lastTransitionTime:
          old && old.status === status ? old.lastTransitionTime : report.reportTime,
      };
      try {
        await hub.replace(`${path}/status`, {
          ...mca,
          status: {
            ...mca.status,
            conditions: [...conditions.filter(c => c.type !== ADDON_CONDITION), next],
          },
        });
        return;
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 409) || attempt >= 3) throw err;
      }
    }
  }
}
