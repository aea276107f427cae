// Test fixture standing in for Velero and the OADP operator, which cannot run here: it moves
// every Backup and Restore in openshift-adp to phase Completed, or to the phase named by the
// annotation `test.ibu-gitops.dev/velero-phase` (Failed, PartiallyFailed, ...); processes each
// DeleteBackupRequest there as Velero does when the deletion succeeds (the Backup it names is
// deleted, then the request itself), unless `processDeletes` is off; and marks each
// DataProtectionApplication Reconciled, with an Available BackupStorageLocation of its name.
// Nothing else. OADP_DPA_CRD_STANDIN is the DataProtectionApplication kind for test clusters:
// the OADP operator's Go module (and its CRD) is not served by the module proxy here, so this
// is our own minimal definition of it (OADP's group, version, names and scope; open schema).
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
  /** Off: DeleteBackupRequests are left unprocessed, as when Velero is down. */
  processDeletes = true;

  constructor(private readonly api: KubeApi) {}

  start(): this {
    this.loop = (async () => {
      while (!this.abort.signal.aborted) {
        for (const plural of ["backups", "restores"])
          await this.advance(plural).catch(() => undefined);
        if (this.processDeletes) await this.processRequests().catch(() => undefined);
        await this.reconcileDpas().catch(() => undefined);
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

  private async processRequests(): Promise<void> {
    const base = "/apis/velero.io/v1/namespaces/openshift-adp";
    const list = await this.api.get<{ items: Array<Obj & { spec: { backupName: string } }> }>(
      `${base}/deletebackuprequests`,
    );
    for (const d of list?.items ?? []) {
      if (d.status?.phase === "Processed") continue;
      await this.api.delete(`${base}/backups/${d.spec.backupName}`);
      // Velero removes a backup's deletion requests once the backup is gone.
      await this.api.delete(`${base}/deletebackuprequests/${d.metadata.name}`);
      this.deleted++;
    }
  }

  private async reconcileDpas(): Promise<void> {
    const base =
      "/apis/oadp.openshift.io/v1alpha1/namespaces/openshift-adp/dataprotectionapplications";
    const list = await this.api.get<{ items: Array<Obj & { status?: { conditions?: object[] } }> }>(
      base,
    );
    for (const d of list?.items ?? []) {
      if (d.status?.conditions?.length) continue;
      const bsls = "/apis/velero.io/v1/namespaces/openshift-adp/backupstoragelocations";
      const name = `${d.metadata.name}-1`;
      // Velero's CRDs have no status subresource: the status goes in with the object.
      await this.api
        .create(bsls, {
          apiVersion: "velero.io/v1",
          kind: "BackupStorageLocation",
          metadata: { name, namespace: "openshift-adp" },
          spec: { provider: "aws", objectStorage: { bucket: "stand-in" } },
          status: { phase: "Available" },
        })
        .catch(() => undefined); // already there
      await this.api.replace(`${base}/${d.metadata.name}`, {
        ...d,
        status: { conditions: [{ type: "Reconciled", status: "True", reason: "Complete" }] },
      });
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}

export const OADP_DPA_CRD_STANDIN = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: "dataprotectionapplications.oadp.openshift.io" },
  spec: {
    group: "oadp.openshift.io",
    names: {
      kind: "DataProtectionApplication",
      listKind: "DataProtectionApplicationList",
      plural: "dataprotectionapplications",
      singular: "dataprotectionapplication",
      shortNames: ["dpa"],
    },
    scope: "Namespaced",
    versions: [
      {
        name: "v1alpha1",
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
        },
      },
    ],
  },
} as const;
