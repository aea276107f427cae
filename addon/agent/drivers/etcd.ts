// An etcd run on a stateroot's data folder while that stateroot is not booted (the seed's
// etcd, in the new stateroot before the pivot), to read and rewrite what the cluster stores
// there. It listens on loopback only, for as long as the work takes, and talks etcd's JSON
// gateway (/v3/kv/*), so no gRPC client is needed.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";

export interface EtcdKv {
  readonly key: Buffer;
  readonly value: Buffer;
}

export interface EtcdClient {
  /** Every key and value, in key order. */
  all(): Promise<EtcdKv[]>;
  /** Every key, in key order, without the values (cheap on a large etcd). */
  keys(): Promise<Buffer[]>;
  get(key: Buffer): Promise<Buffer | undefined>;
  put(key: Buffer, value: Buffer): Promise<void>;
  /** Deletes one key; a key that is not there is not an error. */
  delete(key: Buffer): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const b64 = (b: Buffer): string => b.toString("base64");

function client(url: string): EtcdClient {
  const call = async <T>(path: string, body: object): Promise<T> => {
    const res = await fetch(`${url}${path}`, { method: "POST", body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`etcd ${path}: HTTP ${res.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as T;
  };
  type Range = { kvs?: Array<{ key: string; value?: string }>; more?: boolean };
  const decode = (kvs: Range["kvs"]): EtcdKv[] =>
    (kvs ?? []).map(kv => ({
      key: Buffer.from(kv.key, "base64"),
      value: Buffer.from(kv.value ?? "", "base64"),
    }));
  const every = async (keysOnly: boolean): Promise<EtcdKv[]> => {
    const out: EtcdKv[] = [];
    let from = Buffer.from([0]);
    for (;;) {
      const page = await call<Range>("/v3/kv/range", {
        key: b64(from),
        range_end: b64(Buffer.from([0])),
        limit: 500,
        ...(keysOnly ? { keys_only: true } : {}),
      });
      const kvs = decode(page.kvs);
      out.push(...kvs);
      if (!page.more || !kvs.length) return out;
      from = Buffer.concat([kvs.at(-1)!.key, Buffer.from([0])]);
    }
  };
  return {
    all: () => every(false),
    keys: async () => (await every(true)).map(kv => kv.key),
    async get(key) {
      const page = await call<Range>("/v3/kv/range", { key: b64(key) });
      return decode(page.kvs)[0]?.value;
    },
    async put(key, value) {
      await call("/v3/kv/put", { key: b64(key), value: b64(value) });
    },
    async delete(key) {
      await call("/v3/kv/deleterange", { key: b64(key) });
    },
  };
}

/** Whether `pid` is an etcd serving `dataDir` (a zombie's empty cmdline is not). */
function servesDataDir(pid: number, dataDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8")
      .split("\0")
      .includes(`--data-dir=${dataDir}`);
  } catch {
    return false;
  }
}

/**
 * An etcd a killed agent left running still holds the data folder's lock: stop it first. Its
 * PID is in a file beside the data folder, and it is killed only if it still serves that folder.
 */
async function stopLeftover(pidFile: string, dataDir: string): Promise<void> {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8"));
  if (Number.isInteger(pid) && pid > 0 && servesDataDir(pid, dataDir)) {
    process.kill(pid, "SIGKILL");
    const deadline = Date.now() + 10_000;
    while (servesDataDir(pid, dataDir)) {
      if (Date.now() > deadline) throw new Error(`etcd ${pid} left on ${dataDir} does not stop`);
      await new Promise(r => setTimeout(r, 50));
    }
  }
  rmSync(pidFile, { force: true });
}

/**
 * Runs `work` against an etcd serving `dataDir` (which must not be in use by another etcd),
 * then stops it. `binary` is the etcd executable. An etcd left by an agent killed in the
 * middle is stopped first, so a restart can always open the folder again.
 */
export async function withOfflineEtcd<T>(
  binary: string,
  dataDir: string,
  work: (etcd: EtcdClient) => Promise<T>,
): Promise<T> {
  const pidFile = `${dataDir}.ibu-gitops-etcd.pid`;
  await stopLeftover(pidFile, dataDir);
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  let log = "";
  const proc: ChildProcess = spawn(
    binary,
    [
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      "--log-level=warn",
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  if (proc.pid) writeFileSync(pidFile, String(proc.pid));
  proc.stderr!.on("data", (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>(resolve => proc.once("exit", () => resolve()));
  const spawnError = new Promise<never>((_, reject) =>
    proc.once("error", err => reject(new Error(`cannot run etcd (${binary}): ${err.message}`))),
  );
  spawnError.catch(() => undefined); // reported through the race below, when it happens
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const healthy = await Promise.race([
        fetch(`${url}/health`).then(
          r => r.ok,
          () => false,
        ),
        spawnError,
      ]);
      if (healthy) break;
      if (proc.exitCode !== null || Date.now() > deadline)
        throw new Error(`etcd on ${dataDir} did not start: ${log.trim().split("\n").at(-1) ?? ""}`);
      await new Promise(r => setTimeout(r, 100));
    }
    return await work(client(url));
  } finally {
    if (proc.exitCode === null) {
      proc.kill("SIGTERM");
      await exited;
    }
    rmSync(pidFile, { force: true });
  }
}
