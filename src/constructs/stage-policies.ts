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
  /** @default "low", as ZTP's IBU policies */
  readonly severity?: "low" | "medium" | "high" | "critical";
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
                  severity: props.severity ?? "low",
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
      { file: props.file, wave: SyncWave.assessed },
    );
  }
}

export interface PolicyPlacementProps {
  readonly namespace: string;
  /** The policy placed; the Placement and binding are named after it, as PolicyGenerator does. */
  readonly policy: string;
  /** ORed predicates, one label selector each. */
  readonly selectors: readonly LabelSelector[];
  readonly file: string;
}

/**
 * A policy's Placement and PlacementBinding, named `placement-<policy>` and `binding-<policy>`
 * like PolicyGenerator's output for ZTP's IBU example.
 */
export class PolicyPlacement extends Construct {
  constructor(scope: Construct, id: string, props: PolicyPlacementProps) {
    super(scope, id);
    const opts = { file: props.file, wave: SyncWave.placement };
    const placement = `placement-${props.policy}`;
    emit(
      this,
      "Placement",
      {
        apiVersion: "cluster.open-cluster-management.io/v1beta1",
        kind: "Placement",
        metadata: { name: placement, namespace: props.namespace },
        spec: {
          predicates: props.selectors.map(labelSelector => ({
            requiredClusterSelector: { labelSelector },
          })),
          // As PolicyGenerator does: keep policies on clusters that are briefly unavailable or
          // unreachable (a cluster rebooting into its new stateroot is one).
          tolerations: [
            { key: "cluster.open-cluster-management.io/unavailable", operator: "Exists" },
            { key: "cluster.open-cluster-management.io/unreachable", operator: "Exists" },
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
        metadata: { name: `binding-${props.policy}`, namespace: props.namespace },
        placementRef: {
          apiGroup: "cluster.open-cluster-management.io",
          kind: "Placement",
          name: placement,
        },
        subjects: [
          { apiGroup: "policy.open-cluster-management.io", kind: "Policy", name: props.policy },
        ],
      },
      opts,
    );
  }
}

/**
 * Binds the built-in `global` ManagedClusterSet to the policy namespace: without a binding a
 * Placement selects nothing.
 */
export function clusterSetBinding(scope: Construct, namespace: string, file: string): void {
  emit(
    scope,
    "ClusterSetBinding",
    {
      apiVersion: "cluster.open-cluster-management.io/v1beta2",
      kind: "ManagedClusterSetBinding",
      metadata: { name: "global", namespace },
      spec: { clusterSet: "global" },
    },
    { file, wave: SyncWave.config },
  );
}

export type { PolicyNames };
