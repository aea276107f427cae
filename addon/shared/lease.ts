// Leader election with a coordination.k8s.io/v1 Lease, client-go's algorithm (client-node has
// none): a candidate takes the Lease when it has no holder or its record has not changed for
// leaseDuration (measured on the candidate's own clock, so clock skew between replicas does not
// matter), by a replace carrying the read resourceVersion (a 409 means another won); the leader
// renews every retry period and steps down when it has not renewed for renewDeadline, before
// anyone else may take over. On shutdown the leader releases the Lease so a successor starts
// at once.
import { ApiError, sleep, type KubeApi } from "./kube.js";
import { SILENT, type Logger } from "./log.js";

export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface Lease {
  apiVersion: "coordination.k8s.io/v1";
  kind: "Lease";
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: LeaseSpec;
}

export interface LeaderElectionOptions {
  readonly api: KubeApi;
  readonly namespace: string;
  readonly name: string;
  /** Unique per replica: pod name plus a random suffix, say. */
  readonly identity: string;
  /** @default 15 */
  readonly leaseDurationSeconds?: number;
  /** @default 10 */
  readonly renewDeadlineSeconds?: number;
  /** @default 2 */
  readonly retryPeriodSeconds?: number;
  readonly onStartedLeading?: () => void;
  readonly onStoppedLeading?: () => void;
  /** @default SILENT */
  readonly log?: Logger;
}

/** A Kubernetes MicroTime: RFC 3339 with exactly 6 fractional digits (the apiserver insists). */
export function microTime(d: Date = new Date()): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}

export const leasePath = (namespace: string, name = ""): string =>
  `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases${name ? `/${encodeURIComponent(name)}` : ""}`;

export class LeaderElector {
  private leader = false;
  private lastRenew = 0;
  private observedRecord = "";
  private observedAt = 0;
  private readonly durationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly log: Logger;

  constructor(private readonly opts: LeaderElectionOptions) {
    this.durationMs = (opts.leaseDurationSeconds ?? 15) * 1000;
    this.renewDeadlineMs = (opts.renewDeadlineSeconds ?? 10) * 1000;
    this.retryMs = (opts.retryPeriodSeconds ?? 2) * 1000;
    if (this.renewDeadlineMs >= this.durationMs)
      throw new Error(
        "leader election: the renew deadline must be shorter than the lease duration",
      );
    this.log = opts.log ?? SILENT;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  get identity(): string {
    return this.opts.identity;
  }

  /** Campaigns and renews until `signal` aborts, then releases the Lease if it holds it. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let held: boolean | "lost" = false;
      try {
        held = await this.tryAcquireOrRenew();
      } catch (err) {
        if (!signal.aborted)
          this.log.warn({ lease: this.opts.name, err }, `lease ${this.opts.name}`);
      }
      const now = Date.now();
      if (held === true) {
        this.lastRenew = now;
        if (!this.leader) this.setLeader(true);
      } else if (this.leader && (held === "lost" || now - this.lastRenew > this.renewDeadlineMs)) {
        this.setLeader(false);
      }
      // Jitter the candidates' retries (client-go's JitterFactor 1.2 for acquiring).
      const wait = this.leader ? this.retryMs : this.retryMs * (1 + Math.random() * 0.2);
      await sleep(wait, signal);
    }
    if (this.leader) {
      this.setLeader(false);
      await this.release().catch((err: unknown) =>
        this.log.warn({ lease: this.opts.name, err }, `lease ${this.opts.name}: release failed`),
      );
    }
  }

  private setLeader(v: boolean): void {
    this.leader = v;
    this.log.info(
      { lease: this.opts.name, leader: v },
      `lease ${this.opts.namespace}/${this.opts.name}: ${this.opts.identity} ${v ? "is the leader" : "stopped leading"}`,
    );
    if (v) this.opts.onStartedLeading?.();
    else this.opts.onStoppedLeading?.();
  }

  /** True when this replica holds the Lease afterwards; "lost" when another replica holds it. */
  private async tryAcquireOrRenew(): Promise<boolean | "lost"> {
    const { api, namespace, name, identity } = this.opts;
    const path = leasePath(namespace, name);
    const now = new Date();
    const existing = await api.get<Lease>(path);
    const seconds = this.durationMs / 1000;
    if (!existing) {
      const lease: Lease = {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name, namespace },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: seconds,
          acquireTime: microTime(now),
          renewTime: microTime(now),
          leaseTransitions: 0,
        },
      };
      return this.write(() => api.create(leasePath(namespace), lease));
    }
    const spec = existing.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime, spec.leaseDurationSeconds]);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = Date.now();
    }
    const holder = spec.holderIdentity ?? "";
    const validMs = (spec.leaseDurationSeconds ?? seconds) * 1000;
    if (holder && holder !== identity && this.observedAt + validMs > Date.now()) return "lost";
    const mine = holder === identity;
    const next: Lease = {
      ...existing,
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: seconds,
        acquireTime: mine && spec.acquireTime ? spec.acquireTime : microTime(now),
        renewTime: microTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    return this.write(() => api.replace(path, next));
  }

  private async write(op: () => Promise<unknown>): Promise<boolean> {
    try {
      await op();
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) return false; // another replica won
      throw err;
    }
  }

  /** Gives the Lease up (client-go's ReleaseOnCancel): no holder, a 1 s duration. */
  private async release(): Promise<void> {
    const { api, namespace, name, identity } = this.opts;
    const path = leasePath(namespace, name);
    const existing = await api.get<Lease>(path);
    if (!existing || existing.spec?.holderIdentity !== identity) return;
    const now = microTime();
    await api.replace(path, {
      ...existing,
      spec: {
        leaseDurationSeconds: 1,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: existing.spec.leaseTransitions ?? 0,
      },
    });
  }
}
