// The ibu-gitops addon's generated objects against real apiservers: (a) every hub object and
// every manifest of the AddOnTemplate passes server-side dry-run with strict field validation
// (the manifests on a spoke, where the addon-manager's ManifestWork applies them); (b) the
// agent's real hub identity (the client certificate OCM's registration gives it) can write its
// own cluster's report and addon status and nothing else; (c) the hub controller's
// ServiceAccount has what it needs and no more.
import { execFile } from "node:child_process";
import { createSign, generateKeyPairSync } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import {
  ADDON_FILES,
  ADDON_POLICY,
  AGENT_HUB_ROLE,
  AGENT_HUB_ROLEBINDING,
  HUB_NAME,
  agentIdentity,
} from "../../src/constructs/addon.js";
import { loadFleet } from "../../src/fleet/load.js";
import type { Fleet } from "../../src/fleet/model.js";
import { synthFleet } from "../../src/synth.js";
import {
  httpRequest,
  statusMessage,
  writeKubeconfig,
  type ApiResponse,
  type KubeObject,
  type TestCluster,
} from "../support/cluster.js";
import { sleep } from "../support/process.js";
import { sharedCluster, uniqueName } from "../support/shared.js";

const hub = sharedCluster("hub");
const spoke = sharedCluster("spoke-1");

type Obj = KubeObject & { metadata: { name: string; namespace?: string } } & Record<string, any>;

const docs = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map(d => d.toJS() as Obj)
    .filter(Boolean);

function addonObjects(fleet: Fleet): Obj[] {
  const files = synthFleet(fleet);
  return Object.values(ADDON_FILES).flatMap(f => docs(files.get(f) ?? ""));
}

const example = loadFleet("examples/fleet.yaml");
const find = (objs: Obj[], kind: string, name?: string): Obj => {
  const o = objs.find(x => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!o) throw new Error(`no ${kind} ${name ?? ""} in the generated addon`);
  return o;
};

async function ensureNamespace(cluster: TestCluster, name: string): Promise<void> {
  const res = await cluster.request("POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name },
  });
  expect([201, 409], statusMessage(res)).toContain(res.status);
}

async function pathOf(cluster: TestCluster, o: Obj, collection = false): Promise<string> {
  const { plural, namespaced } = await cluster.resourceFor(o.apiVersion, o.kind);
  const base = o.apiVersion.includes("/") ? `/apis/${o.apiVersion}` : `/api/${o.apiVersion}`;
  const ns = namespaced ? `/namespaces/${o.metadata.namespace ?? "default"}` : "";
  return `${base}${ns}/${plural}${collection ? "" : `/${o.metadata.name}`}`;
}

/**
 * Server-side dry-run with strict field validation: a create, or for an object the cluster has
 * already (our CRDs, installed by the test setup) a server-side apply, which validates the same.
 */
async function dryRun(cluster: TestCluster, o: Obj): Promise<ApiResponse> {
  const created = await cluster.dryRunCreate(o);
  if (created.status !== 409) return created;
  const path = await pathOf(cluster, o);
  return httpRequest(
    cluster.kubeConfig(),
    cluster.info.url,
    "PATCH",
    `${path}?dryRun=All&fieldValidation=Strict&fieldManager=ibu-gitops-test&force=true`,
    o,
    "application/apply-patch+yaml",
  );
}

/** Creates `o` for real (as admin), replacing an existing object of the same name. */
async function apply(cluster: TestCluster, o: Obj): Promise<void> {
  const created = await cluster.request("POST", await pathOf(cluster, o, true), o);
  if (created.status === 201) return;
  expect(created.status, statusMessage(created)).toBe(409);
  const path = await pathOf(cluster, o);
  const current = await cluster.request("GET", path);
  const rv = (current.body as Obj).metadata.resourceVersion;
  const replaced = await cluster.request("PUT", path, {
    ...o,
    metadata: { ...o.metadata, resourceVersion: rv },
  });
  expect(replaced.status, statusMessage(replaced)).toBe(200);
}

async function accessReview(
  user: string,
  groups: readonly string[],
  attrs: {
    verb: string;
    group: string;
    resource: string;
    namespace?: string;
    subresource?: string;
  },
): Promise<boolean> {
  const res = await hub.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", {
    apiVersion: "authorization.k8s.io/v1",
    kind: "SubjectAccessReview",
    spec: { user, groups, resourceAttributes: attrs },
  });
  expect(res.status, statusMessage(res)).toBe(201);
  return (res.body as { status: { allowed?: boolean } }).status.allowed === true;
}

const exec = promisify(execFile);

/** DER: one tag-length-value. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  const len =
    n < 0x80
      ? Buffer.from([n])
      : n < 0x100
        ? Buffer.from([0x81, n])
        : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

/**
 * A client certificate for `user` in `groups` (CN and O, as kube-apiserver reads them), like
 * the one OCM's registration agent gets for the addon. OCM's names are longer than the 64
 * characters RFC 5280 suggests for CN and O, which Go's x509 allows but `openssl req` refuses
 * (so TestCluster.mintUser cannot make them): the CSR is written here as DER and signed with
 * node:crypto, and the real openssl CLI signs the certificate with the cluster's client CA.
 */
async function mintOcmUser(
  cluster: TestCluster,
  user: string,
  groups: readonly string[],
): Promise<ReturnType<TestCluster["kubeConfig"]>> {
  const dir = join(cluster.info.dir, "users", uniqueName("ocm-agent"));
  mkdirSync(dir, { recursive: true });
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const OID = {
    organization: Buffer.from([0x55, 0x04, 0x0a]),
    commonName: Buffer.from([0x55, 0x04, 0x03]),
    ecdsaWithSha256: Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
  };
  const rdn = (oid: Buffer, value: string): Buffer =>
    tlv(0x31, tlv(0x30, tlv(0x06, oid), tlv(0x0c, Buffer.from(value, "utf8"))));
  const name = tlv(0x30, ...groups.map(g => rdn(OID.organization, g)), rdn(OID.commonName, user));
  const info = tlv(
    0x30,
    tlv(0x02, Buffer.from([0])),
    name,
    publicKey.export({ type: "spki", format: "der" }),
    Buffer.from([0xa0, 0x00]),
  );
  const signature = createSign("SHA256").update(info).sign(privateKey);
  const csr = tlv(
    0x30,
    info,
    tlv(0x30, tlv(0x06, OID.ecdsaWithSha256)),
    tlv(0x03, Buffer.from([0]), signature),
  );
  const pem = (label: string, der: Buffer): string =>
    `-----BEGIN ${label}-----\n${der.toString("base64").replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END ${label}-----\n`;
  writeFileSync(join(dir, "user.csr"), pem("CERTIFICATE REQUEST", csr));
  writeFileSync(join(dir, "user.key"), privateKey.export({ type: "pkcs8", format: "pem" }), {
    mode: 0o600,
  });
  writeFileSync(
    join(dir, "user.ext"),
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
  );
  await exec(
    "openssl",
    [
      "x509",
      "-req",
      "-in",
      "user.csr",
      "-CA",
      cluster.info.clientCa.cert,
      "-CAkey",
      cluster.info.clientCa.key,
      "-set_serial",
      String(Date.now()),
      "-days",
      "1",
      "-out",
      "user.crt",
      "-extfile",
      "user.ext",
    ],
    { cwd: dir },
  );
  const kubeconfig = join(dir, "kubeconfig");
  writeKubeconfig(kubeconfig, {
    name: cluster.name,
    server: cluster.info.url,
    ca: cluster.info.servingCa,
    user,
    cert: join(dir, "user.crt"),
    key: join(dir, "user.key"),
  });
  const kc = cluster.kubeConfig();
  kc.loadFromFile(kubeconfig);
  return kc;
}

// Cluster-scoped objects made for real on the shared hub, removed at the end. They carry
// unique names: other test files dry-run-create the generated names on the same hub, and
// must not find them taken.
const madeForReal: Obj[] = [];
afterAll(async () => {
  for (const o of madeForReal.reverse()) await hub.request("DELETE", await pathOf(hub, o));
});

/** A generated cluster-scoped object under a unique name, with references to renamed ones fixed. */
function renamed(o: Obj, names: ReadonlyMap<string, string>): Obj {
  const copy = structuredClone(o);
  copy.metadata.name = names.get(o.metadata.name) ?? o.metadata.name;
  if (copy.roleRef) copy.roleRef.name = names.get(copy.roleRef.name) ?? copy.roleRef.name;
  if (copy.kind === "ValidatingAdmissionPolicyBinding")
    copy.spec.policyName = names.get(copy.spec.policyName) ?? copy.spec.policyName;
  delete copy.metadata.annotations;
  return copy;
}

describe("the generated addon (examples/fleet.yaml), on real apiservers", () => {
  const objects = addonObjects(example);
  const template = find(objects, "AddOnTemplate");
  const manifests = template.spec.agentSpec.workload.manifests as Obj[];

  it("passes server-side dry-run with strict field validation on the hub, object by object", async () => {
    expect(objects.length).toBeGreaterThan(15);
    for (const ns of new Set(objects.map(o => o.metadata.namespace).filter(Boolean)))
      await ensureNamespace(hub, ns!);
    const failures: string[] = [];
    for (const o of objects) {
      const res = await dryRun(hub, o);
      if (res.status !== 201 && res.status !== 200)
        failures.push(`${o.kind} ${o.metadata.name}: ${statusMessage(res)}`);
    }
    expect(failures).toEqual([]);
  });

  it("has an AddOnTemplate whose every manifest dry-runs on a spoke", async () => {
    const ns = find(manifests, "Namespace").metadata.name;
    await ensureNamespace(spoke, ns);
    expect(manifests.map(m => m.kind)).toEqual([
      "Namespace",
      "CustomResourceDefinition",
      "ServiceAccount",
      "ClusterRole",
      "ClusterRoleBinding",
      "ClusterRole", // OADP's configuration
      "ClusterRoleBinding",
      "ClusterRole", // extra manifests
      "ClusterRoleBinding",
      "Deployment",
    ]);
    const failures: string[] = [];
    for (const m of manifests) {
      const res = await dryRun(spoke, m);
      // The Namespace was just created for real, so the dry-run finds it (409).
      if (m.kind === "Namespace" && res.status === 409) continue;
      if (res.status !== 201 && res.status !== 200)
        failures.push(`${m.kind} ${m.metadata.name}: ${statusMessage(res)}`);
    }
    expect(failures).toEqual([]);
  });
});

describe("the agent's identity on the hub", () => {
  const cluster = uniqueName("sno");
  const neighbour = uniqueName("sno");
  const unrelated = uniqueName("other");
  const objects = addonObjects(example);
  const names = new Map([
    [AGENT_HUB_ROLE, uniqueName("agent-hub")],
    [ADDON_POLICY, uniqueName("agent-own-cluster")],
  ]);
  const role = renamed(find(objects, "ClusterRole", AGENT_HUB_ROLE), names);
  const id = agentIdentity(cluster);
  let agent: { url: string; kc: ReturnType<TestCluster["kubeConfig"]> };
  const as = (method: string, path: string, body?: unknown, type?: string): Promise<ApiResponse> =>
    httpRequest(agent.kc, agent.url, method, path, body, type);
  const reports = (ns: string): string =>
    `/apis/ibu-gitops.dev/v1alpha1/namespaces/${ns}/clusterupgrades`;
  const report = (ns: string): Obj => ({
    apiVersion: "ibu-gitops.dev/v1alpha1",
    kind: "ClusterUpgrade",
    metadata: { name: "upgrade", namespace: ns },
    report: {
      clusterName: ns,
      reportTime: "2026-01-02T03:04:05Z",
      stage: "Idle",
      state: "Idle",
    },
  });

  /**
   * The RoleBinding OCM's addon-manager creates for `hubPermissions: CurrentCluster` (its
   * templateagent/registration.go: name open-cluster-management:<addon>:clusterrole:agent,
   * subjects = the registration's user and groups, without system:authenticated). This stands
   * in for the addon-manager, which does not run here.
   */
  const addonManagerBinding = (ns: string): Obj => {
    const who = agentIdentity(ns);
    return {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: AGENT_HUB_ROLEBINDING, namespace: ns },
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "ClusterRole",
        name: role.metadata.name,
      },
      subjects: [
        { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: who.user },
        ...who.groups
          .filter(g => g !== "system:authenticated")
          .map(name => ({ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name })),
      ],
    };
  };

  beforeAll(async () => {
    for (const ns of [cluster, neighbour, unrelated]) await ensureNamespace(hub, ns);
    const policy = renamed(find(objects, "ValidatingAdmissionPolicy", ADDON_POLICY), names);
    const policyBinding = renamed(
      find(objects, "ValidatingAdmissionPolicyBinding", ADDON_POLICY),
      names,
    );
    for (const o of [role, policy, policyBinding]) {
      await apply(hub, o);
      madeForReal.push(o);
    }
    // The neighbour has the addon too, so its namespace has the same binding for its agent.
    for (const ns of [cluster, neighbour]) {
      await apply(hub, addonManagerBinding(ns));
      await apply(hub, {
        apiVersion: "addon.open-cluster-management.io/v1alpha1",
        kind: "ManagedClusterAddOn",
        metadata: { name: "ibu-gitops", namespace: ns },
        spec: {},
      });
    }
    agent = { url: hub.info.url, kc: await mintOcmUser(hub, id.user, id.groups) };
    // An admission policy is enforced once the apiserver has loaded it: wait until the
    // agent's dry-run write into the neighbour's namespace is refused by it.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const res = await as("POST", `${reports(neighbour)}?dryRun=All`, report(neighbour));
      if (res.status === 403) break;
      if (Date.now() > deadline) throw new Error(`policy not enforced: ${statusMessage(res)}`);
      await sleep(200);
    }
  });

  it("authenticates with its certificate as OCM's agent user, in OCM's groups", async () => {
    const res = await as("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
      apiVersion: "authentication.k8s.io/v1",
      kind: "SelfSubjectReview",
    });
    expect(res.status, statusMessage(res)).toBe(201);
    const info = (res.body as { status: { userInfo: { username: string; groups: string[] } } })
      .status.userInfo;
    expect(info.username).toBe(id.user);
    expect(info.groups).toEqual(id.groups);
  });

  it("creates and updates the report in its own cluster namespace", async () => {
    const created = await as("POST", reports(cluster), report(cluster));
    expect(created.status, statusMessage(created)).toBe(201);
    const current = created.body as Obj;
    const updated = await as("PUT", `${reports(cluster)}/upgrade`, {
      ...current,
      report: { ...current.report, stage: "Prep", state: "InProgress" },
    });
    expect(updated.status, statusMessage(updated)).toBe(200);
    const patched = await as(
      "PATCH",
      `${reports(cluster)}/upgrade`,
      { report: { state: "Completed" } },
      "application/merge-patch+json",
    );
    expect(patched.status, statusMessage(patched)).toBe(200);
    expect((patched.body as Obj).report).toMatchObject({ stage: "Prep", state: "Completed" });
  });

  it("patches the status of its own ManagedClusterAddOn, and reads it", async () => {
    const path = `/apis/addon.open-cluster-management.io/v1alpha1/namespaces/${cluster}/managedclusteraddons/ibu-gitops`;
    const patched = await as(
      "PATCH",
      `${path}/status`,
      {
        status: {
          conditions: [
            {
              type: "ibu-gitops.dev/ImageBasedUpgrade",
              status: "True",
              reason: "Idle",
              message: "Idle",
              lastTransitionTime: "2026-01-02T03:04:05Z",
            },
          ],
        },
      },
      "application/merge-patch+json",
    );
    expect(patched.status, statusMessage(patched)).toBe(200);
    expect((await as("GET", path)).status).toBe(200);
    // Not another addon's, in the same namespace.
    const other = await as(
      "GET",
      `/apis/addon.open-cluster-management.io/v1alpha1/namespaces/${cluster}/managedclusteraddons/work-manager`,
    );
    expect(other.status).toBe(403);
  });

  it("is refused a report in another cluster's namespace, even where that cluster's agent is bound", async () => {
    // RBAC alone would allow it: OCM binds the role to a group every ibu-gitops agent is in.
    expect(
      await accessReview(id.user, id.groups, {
        verb: "create",
        group: "ibu-gitops.dev",
        resource: "clusterupgrades",
        namespace: neighbour,
      }),
    ).toBe(true);
    // The generated admission policy refuses it.
    const res = await as("POST", reports(neighbour), report(neighbour));
    expect(res.status, statusMessage(res)).toBe(403);
    expect(statusMessage(res)).toContain("may write only in its own cluster namespace");
    const status = await as(
      "PATCH",
      `/apis/addon.open-cluster-management.io/v1alpha1/namespaces/${neighbour}/managedclusteraddons/ibu-gitops/status`,
      { status: { conditions: [] } },
      "application/merge-patch+json",
    );
    expect(status.status, statusMessage(status)).toBe(403);
    // A namespace without the addon: RBAC refuses.
    const elsewhere = await as("POST", reports(unrelated), report(unrelated));
    expect(elsewhere.status, statusMessage(elsewhere)).toBe(403);
  });

  it("can neither read nor patch ManagedClusters, nor read Secrets in its own namespace", async () => {
    const mc = "/apis/cluster.open-cluster-management.io/v1/managedclusters";
    expect((await as("GET", mc)).status).toBe(403);
    expect((await as("GET", `${mc}/${cluster}`)).status).toBe(403);
    const patch = await as(
      "PATCH",
      `${mc}/${cluster}`,
      {
        metadata: { annotations: { "import.open-cluster-management.io/disable-auto-import": "" } },
      },
      "application/merge-patch+json",
    );
    expect(patch.status).toBe(403);
    expect((await as("GET", `/api/v1/namespaces/${cluster}/secrets`)).status).toBe(403);
    expect((await as("GET", `/api/v1/namespaces/${cluster}/secrets/any`)).status).toBe(403);
    expect((await as("DELETE", `${reports(cluster)}/upgrade`)).status).toBe(403);
  });
});

describe("the hub controller's ServiceAccount", () => {
  const hubNs = uniqueName("ibu-hub");
  const fleet: Fleet = {
    ...example,
    spec: { ...example.spec, addon: { ...example.spec.addon!, hubNamespace: hubNs } },
  };
  const objects = addonObjects(fleet);
  const names = new Map([[HUB_NAME, uniqueName("hub")]]);
  const sa = `system:serviceaccount:${hubNs}:${HUB_NAME}`;
  const groups = [
    "system:serviceaccounts",
    `system:serviceaccounts:${hubNs}`,
    "system:authenticated",
  ];
  const can = (
    verb: string,
    group: string,
    resource: string,
    namespace?: string,
  ): Promise<boolean> =>
    accessReview(sa, groups, { verb, group, resource, ...(namespace ? { namespace } : {}) });

  beforeAll(async () => {
    await ensureNamespace(hub, hubNs);
    const cr = renamed(find(objects, "ClusterRole", HUB_NAME), names);
    const crb = renamed(find(objects, "ClusterRoleBinding", HUB_NAME), names);
    for (const o of [cr, crb]) {
      await apply(hub, o);
      madeForReal.push(o);
    }
    for (const kind of ["ServiceAccount", "Role", "RoleBinding"])
      for (const o of objects.filter(x => x.kind === kind && x.metadata.namespace === hubNs))
        await apply(hub, o);
  });

  it("can read reports, patch ManagedClusters, write Events, review tokens and access", async () => {
    const mc = "cluster.open-cluster-management.io";
    expect(await can("patch", mc, "managedclusters")).toBe(true);
    expect(await can("watch", mc, "managedclusters")).toBe(true);
    expect(await can("list", "ibu-gitops.dev", "clusterupgrades")).toBe(true);
    expect(await can("create", "events.k8s.io", "events", "default")).toBe(true);
    expect(await can("create", "authentication.k8s.io", "tokenreviews")).toBe(true);
    expect(await can("create", "authorization.k8s.io", "subjectaccessreviews")).toBe(true);
    expect(await can("list", "ran.openshift.io", "clustergroupupgrades")).toBe(true);
    expect(await can("update", "coordination.k8s.io", "leases", hubNs)).toBe(true);
  });

  it("cannot read Secrets, write reports or CGUs, delete ManagedClusters, or take leases elsewhere", async () => {
    expect(await can("get", "", "secrets", hubNs)).toBe(false);
    expect(await can("list", "", "secrets")).toBe(false);
    expect(await can("create", "ibu-gitops.dev", "clusterupgrades", hubNs)).toBe(false);
    expect(await can("patch", "ran.openshift.io", "clustergroupupgrades", "default")).toBe(false);
    expect(await can("delete", "cluster.open-cluster-management.io", "managedclusters")).toBe(
      false,
    );
    expect(await can("update", "coordination.k8s.io", "leases", "kube-system")).toBe(false);
  });
});
