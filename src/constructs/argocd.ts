// The Argo CD Application that syncs a fleet's output folder to the hub, and an AppProject
// whose whitelist admits exactly the kinds we emit. ZTP's default policies project admits no
// ClusterGroupUpgrade or ImageBasedGroupUpgrade, so ZTP users apply those by hand; ours does.
import { Construct } from "constructs";
import type { FleetSpec } from "../fleet/model.js";
import { applicationName } from "../fleet/names.js";
import { emit } from "./output.js";

export interface ArgoAppProps {
  readonly fleetName: string;
  readonly spec: FleetSpec;
  /** Namespaces the output writes into, the upgrade namespace (the app's own) among them. */
  readonly destinations: readonly string[];
  readonly file: string;
  /** Kinds the AppProject admits. @default SYNCED_KINDS */
  readonly kinds?: typeof SYNCED_KINDS;
}

/** Kinds the output folder may contain, by API group. */
export const SYNCED_KINDS: ReadonlyArray<{ group: string; kind: string; clusterScoped?: boolean }> =
  [
    { group: "", kind: "Namespace", clusterScoped: true },
    { group: "", kind: "ConfigMap" },
    { group: "policy.open-cluster-management.io", kind: "Policy" },
    { group: "policy.open-cluster-management.io", kind: "PlacementBinding" },
    { group: "cluster.open-cluster-management.io", kind: "Placement" },
    { group: "cluster.open-cluster-management.io", kind: "ManagedClusterSetBinding" },
    { group: "ran.openshift.io", kind: "ClusterGroupUpgrade" },
    { group: "lcm.openshift.io", kind: "ImageBasedGroupUpgrade" },
  ];

/** The AppProject a fleet's Application belongs to: spec.argocd.project, else its own. */
export function projectName(fleetName: string, spec: FleetSpec): string {
  return spec.argocd.project ?? applicationName(fleetName);
}

/**
 * One Application per fleet and, unless spec.argocd.project names a shared one, one AppProject
 * per fleet named like it: an AppProject shared by fleets is a shared object, and each fleet's
 * copy would replace the others' destinations, whitelists and repositories. The Application's
 * destination names a namespace the project admits: Argo CD matches the Application's own
 * destination (server and namespace) against the project's destinations before it syncs
 * ("application destination ... do not match any of the allowed destinations").
 */
export class ArgoApp extends Construct {
  constructor(scope: Construct, id: string, props: ArgoAppProps) {
    super(scope, id);
    const { argocd } = props.spec;
    const server = "https://kubernetes.default.svc";
    const kinds = props.kinds ?? SYNCED_KINDS;
    const project = projectName(props.fleetName, props.spec);
    emit(
      this,
      "Project",
      {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "AppProject",
        metadata: { name: project, namespace: argocd.namespace },
        spec: {
          description: `ibu-gitops: image-based upgrade policies and upgrades of fleet ${props.fleetName}`,
          sourceRepos: [argocd.repoURL],
          destinations: props.destinations.map(namespace => ({ server, namespace })),
          clusterResourceWhitelist: kinds
            .filter(k => k.clusterScoped)
            .map(({ group, kind }) => ({ group, kind })),
          namespaceResourceWhitelist: kinds
            .filter(k => !k.clusterScoped)
            .map(({ group, kind }) => ({ group, kind })),
        },
      },
      { file: props.file },
    );
    emit(
      this,
      "Application",
      {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: { name: applicationName(props.fleetName), namespace: argocd.namespace },
        spec: {
          project,
          source: {
            repoURL: argocd.repoURL,
            targetRevision: argocd.targetRevision,
            path: `${argocd.path}/${props.fleetName}`,
          },
          // Every object names its namespace; this one must be among the project's destinations.
          destination: { server, namespace: props.spec.hub.upgradeNamespace },
          syncPolicy: {
            automated: { prune: true, selfHeal: true },
            syncOptions: ["PrunePropagationPolicy=background"],
          },
        },
      },
      { file: props.file },
    );
  }
}
