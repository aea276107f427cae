// `ibu-gitops hub`: the hub controller. Watches every cluster's report and the ManagedClusters,
// owns the disable-auto-import annotation (the leader only, with --leader-elect), and serves
// the JSON API, the event stream, /metrics (docs/hub.md) and the dashboard (docs/dashboard.md).
import { readFileSync, statSync } from "node:fs";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { Authorizer } from "../../addon/hub/auth.js";
import { mountDashboard } from "../../addon/hub/dashboard/assets.js";
import { HubController } from "../../addon/hub/controller.js";
import { parseSelector } from "../../addon/hub/groups.js";
import { HubServer, parseListen } from "../../addon/hub/server.js";
import { KubeApi } from "../../addon/shared/kube.js";
import { parseLogLevel, processLogger, type Logger } from "../../addon/shared/log.js";
import {
  inClusterCredentials,
  loadKubeconfig,
  type Credentials,
} from "../../addon/shared/kubeconfig.js";
import { kubeconfigPath, UsageError } from "./common.js";
import { parseDurationFlag } from "./progress.js";
import { shutdownSignal } from "./signals.js";

export interface HubArgs {
  readonly kubeconfig?: string;
  readonly namespace?: string;
  readonly listen?: string;
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly stuckAfter?: string;
  readonly leaderElect: boolean;
  readonly clusterSelector?: string;
  /** Stops the controller and the server (SIGINT/SIGTERM: signals.ts). */
  readonly signal?: AbortSignal;
}

/**
 * The hub's credentials: a kubeconfig file, else the pod's ServiceAccount. The small reader, not
 * client-node's KubeConfig: importing client-node alone costs the process about 80 MB.
 */
function credentials(file: string | undefined): Credentials {
  const path = file ?? process.env.KUBECONFIG;
  if (path) return loadKubeconfig(kubeconfigPath(path));
  if (process.env.KUBERNETES_SERVICE_HOST) return inClusterCredentials();
  throw new Error("--kubeconfig (or KUBECONFIG) is required outside a pod: the hub's kubeconfig");
}

/**
 * Runs the hub controller and its server until `a.signal` (or SIGINT/SIGTERM); resolves to the
 * exit code. Logs JSON lines to stderr at the level `LOG_LEVEL` names (default info; an unknown
 * level fails before anything starts).
 */
export async function runHub(
  a: HubArgs,
  log: Logger = processLogger("ibu-gitops-hub", parseLogLevel(process.env.LOG_LEVEL)),
): Promise<number> {
  const listen = a.listen ?? ":8443";
  parseListen(listen); // a bad --listen fails before anything starts
  if (!!a.tlsCert !== !!a.tlsKey)
    throw new UsageError(
      "--tls-cert and --tls-key go together: give both, or neither for plain HTTP",
    );
  const stuckAfterMs = parseDurationFlag(a.stuckAfter ?? "30m", "--stuck-after");
  if (a.clusterSelector) parseSelector(a.clusterSelector);
  const tls =
    a.tlsCert && a.tlsKey
      ? { cert: readFileSync(a.tlsCert), key: readFileSync(a.tlsKey) }
      : undefined;
  const namespace = a.namespace ?? process.env.POD_NAMESPACE ?? "ibu-gitops";
  const api = new KubeApi(credentials(a.kubeconfig));
  const identity = `${process.env.POD_NAME ?? hostname()}_${randomBytes(4).toString("hex")}`;
  const controller = new HubController({
    api,
    namespace,
    identity,
    leaderElect: a.leaderElect,
    stuckAfterMs,
    ...(a.clusterSelector ? { clusterSelector: a.clusterSelector } : {}),
    log,
  });
  const server = new HubServer({
    controller,
    authorizer: new Authorizer(api),
    listen,
    ...(tls ? { tls } : {}),
    log,
  });
  mountDashboard(server); // `/` and `/static/`: the dashboard (docs/dashboard.md)
  const signal = a.signal ?? shutdownSignal();
  const addr = await server.listen();
  log.info(
    {
      identity,
      port: addr.port,
      tls: !!tls,
      namespace,
      leaderElect: a.leaderElect,
      clusterSelector: a.clusterSelector,
    },
    `hub ${identity} serving ${tls ? "HTTPS" : "plain HTTP (no --tls-cert)"} on port ${addr.port}; ` +
      `namespace ${namespace}, leader election ${a.leaderElect ? "on" : "off"}`,
  );
  // OpenShift's service CA rotates the serving certificate in its Secret; the mounted files
  // change and new connections get the new certificate, without a restart.
  const reload = tls ? watchCertificate(a.tlsCert!, a.tlsKey!, server, log) : undefined;
  await controller.run(signal);
  if (reload) clearInterval(reload);
  await server.close();
  log.info("hub stopped");
  return 0;
}

/** Checks the certificate files every 30 s and serves their new content once they change. */
export function watchCertificate(
  certFile: string,
  keyFile: string,
  server: HubServer,
  log: Logger,
  everyMs = 30_000,
): NodeJS.Timeout {
  const stamp = (): string =>
    [certFile, keyFile].map(f => `${statSync(f).mtimeMs}:${statSync(f).size}`).join("|");
  let last = stamp();
  const timer = setInterval(() => {
    try {
      const now = stamp();
      if (now === last) return;
      server.setCertificate(readFileSync(certFile), readFileSync(keyFile));
      last = now;
      log.info(
        { certFile, keyFile },
        "serving certificate changed on disk: new connections get the new one",
      );
    } catch (err) {
      // A Secret update swaps the files by symlink; a half-seen swap is read again next time.
      log.warn({ certFile, keyFile, err }, "serving certificate not reloaded yet");
    }
  }, everyMs);
  timer.unref();
  return timer;
}
