// Runs the Go toolchain for the test harness: building control-plane binaries from wrapper
// modules and fetching pinned third-party modules (for their CRDs) from the Go module proxy.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Environment every Go call uses: no toolchain downloads, no workspace, static binaries. */
export function goEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOTOOLCHAIN: "local",
    GOWORK: "off",
    CGO_ENABLED: "0",
    GOFLAGS: "-trimpath",
    ...extra,
  };
}

export interface GoResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** Thrown when `go` is not installed; the message says what to install or set. */
export class GoMissingError extends Error {}

const GO_MISSING =
  "Go >= 1.26 is not on PATH. The test harness builds kube-apiserver, etcd and kubectl from the Go " +
  "module proxy. Install Go 1.26 (https://go.dev/dl/, or your distribution's golang package) and make " +
  "sure `go` is on PATH, or set KUBEBUILDER_ASSETS to a folder that holds prebuilt kube-apiserver, " +
  "etcd and kubectl binaries.";

/** Runs `go <args>` in `cwd`; rejects with Go's stderr (and a hint for unserved modules). */
export function runGo(
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = goEnv(),
): Promise<GoResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("go", args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", err => {
      const code = (err as NodeJS.ErrnoException).code;
      reject(code === "ENOENT" ? new GoMissingError(GO_MISSING) : err);
    });
    child.on("close", code => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(describeGoFailure(args, cwd, stderr), { cause: { code, stderr } }));
    });
  });
}

/**
 * Turns Go's stderr into an error message. When the module proxy does not serve a pinned
 * module version, names the module and version first, since that is what the user must fix.
 */
export function describeGoFailure(args: string[], cwd: string, stderr: string): string {
  const unserved = unservedModules(stderr);
  const head = unserved.length
    ? `the Go module proxy does not serve ${unserved.join(", ")} (pinned in ${cwd}); ` +
      "pick a version the proxy serves or check GOPROXY"
    : `\`go ${args.join(" ")}\` failed in ${cwd}`;
  return `${head}\n${lastLines(stderr, 30)}`;
}

/** Module@version pairs that Go reported as missing, unknown or refused by the proxy. */
export function unservedModules(stderr: string): string[] {
  const found = new Set<string>();
  const re =
    /([\w.\-~/]+)@(v[\w.\-+]+)[^\n]*?(unknown revision|not found|invalid version|403 Forbidden|404 Not Found|410 Gone|no matching versions)/g;
  for (const m of stderr.matchAll(re)) found.add(`${m[1]}@${m[2]}`);
  return [...found];
}

export function lastLines(text: string, n: number): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}

export interface DownloadedModule {
  readonly path: string;
  readonly version: string;
  /** The module's extracted source in the module cache (read-only). */
  readonly dir: string;
  /** The go.sum `h1:` hash of the module zip. */
  readonly sum: string;
}

/**
 * Downloads pinned modules into the module cache and returns where they are. `sums` pins each
 * module's zip hash: modules the public checksum database does not list (GONOSUMDB) are still
 * verified, against the hash recorded here.
 */
export async function downloadModules(
  pins: ReadonlyArray<{ path: string; version: string; sum: string }>,
  noSumDb: string[] = [],
): Promise<Map<string, DownloadedModule>> {
  const scratch = mkdtempSync(join(tmpdir(), "ibu-gitops-gomod-"));
  try {
    const env = goEnv({
      GO111MODULE: "on",
      ...(noSumDb.length ? { GONOSUMDB: noSumDb.join(",") } : {}),
    });
    const args = ["mod", "download", "-json", ...pins.map(p => `${p.path}@${p.version}`)];
    let out: string;
    try {
      out = (await runGo(args, scratch, env)).stdout;
    } catch (err) {
      // `go mod download -json` reports per-module errors on stdout, with a non-zero exit.
      const stdout = ((err as Error).cause as { stderr?: string } | undefined)?.stderr ?? "";
      throw new Error(`could not download pinned Go modules: ${(err as Error).message}${stdout}`, {
        cause: err,
      });
    }
    return parseDownloads(out, pins);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function parseDownloads(
  out: string,
  pins: ReadonlyArray<{ path: string; version: string; sum: string }>,
): Map<string, DownloadedModule> {
  const result = new Map<string, DownloadedModule>();
  // The output is a stream of JSON objects, one per module, each starting at column 0.
  for (const chunk of out.split(/\n(?=\{)/)) {
    if (!chunk.trim()) continue;
    const m = JSON.parse(chunk) as {
      Path: string;
      Version: string;
      Dir?: string;
      Sum?: string;
      Error?: string;
    };
    if (m.Error) throw new Error(`Go module ${m.Path}@${m.Version}: ${m.Error}`);
    result.set(m.Path, { path: m.Path, version: m.Version, dir: m.Dir ?? "", sum: m.Sum ?? "" });
  }
  for (const pin of pins) {
    const got = result.get(pin.path);
    if (!got) throw new Error(`Go module ${pin.path}@${pin.version} was not downloaded`);
    if (got.sum !== pin.sum) {
      throw new Error(
        `Go module ${pin.path}@${pin.version} has checksum ${got.sum}, but ${pin.sum} is pinned: ` +
          "the module proxy served different content than when it was pinned",
      );
    }
  }
  return result;
}
