// The agent's and hub's logging (addon/shared/log.ts): LOG_LEVEL parsed with a clear error,
// pino's JSON lines filtered by level with errors and their stacks, and the line form the
// sandbox and `demo --verbose` show.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  lineLogger,
  parseLogLevel,
  processLogger,
  toLogger,
  SILENT,
  type Logger,
} from "../../addon/shared/log.js";

const dir = mkdtempSync(join(tmpdir(), "ibu-log-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What `write` logs through a process logger at `level`, as parsed JSON lines. */
function jsonLines(level: string, write: (log: Logger) => void): Array<Record<string, unknown>> {
  const file = join(dir, `${level}-${Math.random().toString(36).slice(2)}.log`);
  const fd = openSync(file, "w");
  try {
    write(processLogger("ibu-gitops-test", parseLogLevel(level), fd));
  } finally {
    closeSync(fd);
  }
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map(l => JSON.parse(l) as Record<string, unknown>);
}

describe("LOG_LEVEL", () => {
  it("accepts pino's levels in any case, and takes unset or empty as info", () => {
    expect(parseLogLevel("debug")).toBe("debug");
    expect(parseLogLevel(" WARN ")).toBe("warn");
    expect(parseLogLevel("silent")).toBe("silent");
    expect(parseLogLevel(undefined)).toBe("info");
    expect(parseLogLevel("")).toBe("info");
  });

  it("refuses anything else in one line naming the variable and the levels", () => {
    expect(() => parseLogLevel("verbose")).toThrow(
      'LOG_LEVEL="verbose" is not a log level: use one of fatal, error, warn, info, debug, trace, silent',
    );
    expect(() => parseLogLevel("3")).toThrow(/^LOG_LEVEL="3" is not a log level/);
  });
});

describe("the process logger", () => {
  it("writes one JSON object per line with level, ISO time, name and message", () => {
    const lines = jsonLines("info", log => {
      log.info({ stage: "Prep", generation: 2 }, "accepted stage Prep");
      log.info("agent stopped");
    });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 30,
      name: "ibu-gitops-test",
      msg: "accepted stage Prep",
      stage: "Prep",
      generation: 2,
      pid: process.pid,
    });
    expect(new Date(lines[0]!.time as string).toISOString()).toBe(lines[0]!.time);
    expect(lines[1]).toMatchObject({ level: 30, msg: "agent stopped" });
  });

  it("drops entries below LOG_LEVEL and logs nothing when silent", () => {
    const all = (log: Logger): void => {
      log.debug("d");
      log.info("i");
      log.warn("w");
      log.error("e");
    };
    expect(jsonLines("warn", all).map(l => [l.level, l.msg])).toEqual([
      [40, "w"],
      [50, "e"],
    ]);
    expect(jsonLines("debug", all).map(l => l.level)).toEqual([20, 30, 40, 50]);
    expect(jsonLines("silent", all)).toEqual([]);
  });

  it("serializes an error under err with its type, message and stack", () => {
    const [line] = jsonLines("info", log =>
      log.warn({ err: new TypeError("connect ECONNREFUSED") }, "watch restarting"),
    );
    expect(line!.err).toMatchObject({ type: "TypeError", message: "connect ECONNREFUSED" });
    expect((line!.err as { stack: string }).stack).toMatch(/^TypeError: connect ECONNREFUSED\n/);
  });
});

describe("the line form", () => {
  it("gives the message, then the error's message; leaves out other fields and debug", () => {
    const lines: string[] = [];
    const log = lineLogger(l => lines.push(l));
    log.info({ stage: "Prep" }, "accepted stage Prep");
    log.warn({ err: new Error("hub unreachable"), backoffMs: 500 }, "report to the hub failed");
    log.debug("report written to the hub");
    log.error("plain");
    expect(lines).toEqual([
      "accepted stage Prep",
      "report to the hub failed: hub unreachable",
      "plain",
    ]);
  });

  it("takes a function as a line logger, a Logger as itself, nothing as silent", () => {
    const lines: string[] = [];
    toLogger(l => lines.push(l)).info("x");
    expect(lines).toEqual(["x"]);
    expect(toLogger(SILENT)).toBe(SILENT);
    expect(toLogger(undefined)).toBe(SILENT);
  });
});
