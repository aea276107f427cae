// The singleton ImageBasedUpgrade as the agent tests watch it: its path, a condition in one
// string, and a poll until it reads as expected.
import { IBU_PATH } from "../../addon/agent/controller.js";
import type { Ibu } from "../../addon/agent/ibu-types.js";
import type { KubeApi } from "../../addon/shared/kube.js";

export const IBU = `${IBU_PATH}/upgrade`;

/** Condition `type` as `status/reason/message`, or undefined when the IBU does not have it. */
export function condition(i: Ibu, type: string): string | undefined {
  const c = i.status?.conditions?.find(x => x.type === type);
  return c && `${c.status}/${c.reason}/${c.message}`;
}

/** Reads the IBU every 100 ms until `pred` holds; on timeout the error shows what it last read. */
export async function waitForIbu(
  api: KubeApi,
  what: string,
  pred: (i: Ibu) => boolean,
  timeoutMs: number,
): Promise<Ibu> {
  const deadline = Date.now() + timeoutMs;
  let last: Ibu | undefined;
  while (Date.now() < deadline) {
    last = await api.get<Ibu>(IBU).catch(() => undefined);
    if (last && pred(last)) return last;
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error(
    `timed out waiting for ${what}; last: ${JSON.stringify({ metadata: last?.metadata, status: last?.status })}`,
  );
}
