// The ZTP IBU stage policies (oadp-cm, prep, upgrade, finalize, rollback) with ZTP's names and
// semantics: inform, 10s/10s evaluation, no ztp-deploy-wave (TALM enforces them per batch),
// placed with a Placement + PlacementBinding, and a ManagedClusterSetBinding so the Placement
// can select anything at all.
import { Construct } from "constructs";
import type { LabelSelector } from "../fleet/model.js";
import type { PolicyNames } from "../fleet/names.js";
import type { KubeObject } from "../render/templates.js";
import { emit, SyncWave } from "./output.js";

export interface ObjectTemplate {
  readonly complianceType: "musthave" | "mustonlyhave" | "mustnothave";
  readonly objectDefinition: KubeObject;
  /** ZTP keeps ConfigMap content out of status diffs. */
  readonly recordDiff?: "None" | "InStatus" | "Log";
}

export interface StagePolicyProps {
  readonly name: string;
  readonly namespace: string;
  readonly objectTemplates: readonly ObjectTemplate[];
  /** @default "inform" (TALM enforces through its own PlacementBinding override) */
  readonly remediationAction?: "inform" | "enforce";
  /** @default "10s" for both, as ZTP's IBU policies */
  readonly evaluationInterval?: { readonly compliant: string; readonly noncompliant: string };
  readonly file: string;
}

/** One Policy wrapping one ConfigurationPolicy, the shape PolicyGenerator produces. */
export class StagePolicy extends Construct {
  constructor(scope: Construct, id: string, props: StagePolicyProps) {
    super(scope, id);
    const remediationAction = props.remediationAction ?? "inform";
    emit(
      this,
      "Policy",
      {
        apiVersion: "policy.open-cluster-management.io/v1",
        kind: "Policy",
        metadata: {
          name: props.name,
          namespace: props.namespace,
          annotations: {
            "policy.open-cluster-management.io/categories": "CM Configuration Management",
            "policy.open-cluster-management.io/controls": "CM-2 Baseline Configuration",
            "policy.open-cluster-management.io/description": "",
            "policy.open-cluster-management.io/standards": "NIST SP 800-53",
          },
        },
        spec: {
          disabled: false,
          // Argo CD's tracking label must not be copied onto replicated policies (ACM's advice).
          copyPolicyMetadata: false,
          remediationAction,
          "policy-templates": [
            {
              objectDefinition: {
                apiVersion: "policy.open-cluster-management.io/v1",
                kind: "ConfigurationPolicy",
                metadata: { name: props.name },
                spec: {
                  remediationAction,
                  severity: "low",
                  evaluationInterval: props.evaluationInterval ?? {
                    compliant: "10s",
                    noncompliant: "10s",
                  },
                  namespaceSelector: { exclude: ["kube-*"], include: ["*"] },
                  "object-templates": props.objectTemplates.map(t => ({ ...t })),
                },
              },
            },
          ],
        },
      },
      { file: props.file, wave: SyncWave.policies },
    );
  }
}

export interface PolicyPlacementProps {
  readonly namespace: string;
  readonly placementName: string;
  readonly bindingName: string;
  readonly policies: readonly string[];
  /** ORed predicates, one label selector each. */
  readonly selectors: readonly LabelSelector[];
  /** @default "global" (OCM's built-in set of all clusters) */
  readonly clusterSet?: string;
  readonly file: string;
}

/** Placement + PlacementBinding for the stage policies, and the ManagedClusterSetBinding. */
export class PolicyPlacement extends Construct {
  constructor(scope: Construct, id: string, props: PolicyPlacementProps) {
    super(scope, id);
    const clusterSet = props.clusterSet ?? "global";
    const opts = { file: props.file, wave: SyncWave.policies };
    emit(
      this,
      "ClusterSetBinding",
      {
        apiVersion: "cluster.open-cluster-management.io/v1beta2",
        kind: "ManagedClusterSetBinding",
        metadata: { name: clusterSet, namespace: props.namespace },
        spec: { clusterSet },
      },
      { file: props.file, wave: SyncWave.config },
    );
    emit(
      this,
      "Placement",
      {
        apiVersion: "cluster.open-cluster-management.io/v1beta1",
        kind: "Placement",
        metadata: { name: props.placementName, namespace: props.namespace },
        spec: {
          clusterSets: [clusterSet],
          predicates: props.selectors.map(labelSelector => ({
            requiredClusterSelector: { labelSelector },
          })),
          // Like PolicyGenerator: keep policies on clusters that are briefly unreachable
          // (a cluster rebooting into its new stateroot is one).
          tolerations: [
            { key: "cluster.open-cluster-management.io/unreachable", operator: "Exists" },
            { key: "cluster.open-cluster-management.io/unavailable", operator: "Exists" },
          ],
        },
      },
      opts,
    );
    emit(
      this,
      "Binding",
      {
        apiVersion: "policy.open-cluster-management.io/v1",
        kind: "PlacementBinding",
        metadata: { name: props.bindingName, namespace: props.namespace },
        placementRef: {
          apiGroup: "cluster.open-cluster-management.io",
          kind: "Placement",
          name: props.placementName,
        },
        subjects: props.policies.map(name => ({
          apiGroup: "policy.open-cluster-management.io",
          kind: "Policy",
          name,
        })),
      },
      opts,
    );
  }
}

export type { PolicyNames };
