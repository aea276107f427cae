// What every command shares: the usage error (exit 2), kubectl's `-o table|json|yaml`
// printing, and finding the kubeconfig the way kubectl does (flag, KUBECONFIG, ~/.kube/config).
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";

/** A command line the command cannot run with: exit code 2, the message and a usage hint. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const FORMATS = ["table", "json", "yaml"] as const;
export type Format = (typeof FORMATS)[number];

/**
 * The text to print for `data` in `format`: `table` is the command's own human view (built
 * only when asked for), `json` and `yaml` the full data, as `kubectl get -o` does.
 */
export function formatted(format: string, data: unknown, table: () => string): string {
  if (format === "json") return `${JSON.stringify(data, null, 2)}\n`;
  if (format === "yaml") return stringify(data, { lineWidth: 0 });
  return table();
}

/**
 * The kubeconfig file to use: `--kubeconfig`, else `$KUBECONFIG` (its first entry), else
 * `~/.kube/config`, as kubectl picks it. Throws a plain error naming where it looked when the
 * file is missing, instead of the file system's ENOENT.
 */
export function kubeconfigPath(flag: string | undefined): string {
  const env = process.env.KUBECONFIG?.split(":").find(Boolean);
  const file = flag ?? env ?? join(homedir(), ".kube", "config");
  if (!existsSync(file)) {
    const from = flag ? "--kubeconfig" : env ? "KUBECONFIG" : "the default location";
    throw new Error(
      `no kubeconfig at ${file} (from ${from}): give the hub's kubeconfig with --kubeconfig <file> or KUBECONFIG`,
    );
  }
  return file;
}
