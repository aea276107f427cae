// Runs the node tools the agent drives (ostree, skopeo, umoci, tar) with clear errors: the
// tool, its arguments and the tail of its stderr; a missing tool says which package has it.
import { execFile } from "node:child_process";

const PACKAGES: Record<string, string> = {
  ostree: "ostree",
  skopeo: "skopeo",
  umoci: "umoci",
  tar: "tar",
  chattr: "e2fsprogs",
};

export class ToolError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super(message);
    this.name = "ToolError";
  }
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Bytes of stdout to accept. */
  readonly maxBuffer?: number;
}

export function run(tool: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      [...args],
      { cwd: opts.cwd, env: opts.env, maxBuffer: opts.maxBuffer ?? 64 << 20, encoding: "utf8" },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const e = err as NodeJS.ErrnoException & { code?: string | number };
        if (e.code === "ENOENT") {
          return reject(
            new ToolError(
              `${tool} is not installed (Debian package ${PACKAGES[tool] ?? tool})`,
              "",
              null,
            ),
          );
        }
        const tail = fatalMessage(stderr) ?? stderr.trim().split("\n").slice(-5).join("\n");
        reject(
          new ToolError(
            `${tool} ${args.join(" ")} failed: ${tail || e.message}`,
            stderr,
            typeof e.code === "number" ? e.code : null,
          ),
        );
      },
    );
  });
}

/** The message of a logrus-style `level=fatal msg="..."` line (skopeo, umoci), unescaped. */
export function fatalMessage(stderr: string): string | undefined {
  const m = /level=fatal msg="((?:[^"\\]|\\.)*)"/.exec(stderr);
  if (!m?.[1]) return undefined;
  try {
    return JSON.parse(`"${m[1]}"`) as string;
  } catch {
    return m[1];
  }
}
