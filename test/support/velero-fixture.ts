// Test fixture standing in for Velero, which cannot run here: it moves every Backup and
// Restore in openshift-adp to phase Completed, or to the phase named by the annotation
// `test.ibu-gitops.dev/velero-phase` (Failed, PartiallyFailed, ...), and processes each
// DeleteBackupRequest there by deleting the Backup it names. Nothing else.
import type { KubeApi } from "../../addon/shared/kube.js";
import { sleep } from "../../addon/shared/kube.js";

export const VELERO_PHASE_ANNOTATION = "test.ibu-gitops.dev/velero-phase";

type Obj = {
  metadata: { name: string; resourceVersion: string; annotations?: Record<string, string> };
  status?: { phase?: string };
};

export class VeleroPhaseFixture {
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();
  moved = 0;
  deleted = 0;

  constructor(private readonly api: KubeApi) {}

  start(): this {
    this.loop = (async () => {
      while (!this.abort.signal.aborted) {
        for (const plural of ["backups", "restores"])
          await this.advance(plural).catch(() => undefined);
        await this.processDeletes().catch(() => undefined);
        await sleep(200, this.abort.signal);
      }
    })();
    return this;
  }

  private async advance(plural: string): Promise<void> {
    const base = `/apis/velero.io/v1/namespaces/openshift-adp/${plural}`;
    const list = await this.api.get<{ items: Obj[] }>(base);
    for (const o of list?.items ?? []) {
      if (o.status?.phase) continue;
      const phase = o.metadata.annotations?.[VELERO_PHASE_ANNOTATION] ?? "Completed";
      // Velero's CRDs have no status subresource: the whole object is updated.
      await this.api.replace(`${base}/${o.metadata.name}`, {
        ...o,
        status: { ...o.status, phase },
      });
      this.moved++;
    }
  }

  private async processDeletes(): Promise<void> {
    const base = "/apis/velero.io/v1/namespaces/openshift-adp";
    const list = await this.api.get<{ items: Array<Obj & { spec: { backupName: string } }> }>(
      `${base}/deletebackuprequests`,
    );
    for (const d of list?.items ?? []) {
      if (d.status?.phase === "Processed") continue;
      await this.api.delete(`${base}/backups/${d.spec.backupName}`);
      await this.api.replace(`${base}/deletebackuprequests/${d.metadata.name}`, {
        ...d,
        status: { phase: "Processed" },
      });
      this.deleted++;
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}
