// Logging for the agent and the hub controller: pino's JSON lines with levels from LOG_LEVEL in a
// process, or a line function for logs people read (the sandbox, `demo --verbose`), behind one
// small interface that pino's Logger already satisfies.
import { pino } from "pino";

/** Structured context of one log entry; an `err` holding an Error is logged with its stack. */
export type LogFields = Readonly<Record<string, unknown>>;

export interface LogFn {
  (fields: LogFields, msg: string): void;
  (msg: string): void;
}

/** What the agent and the hub log through: pino's Logger, or `lineLogger` around a function. */
export interface Logger {
  readonly error: LogFn;
  readonly warn: LogFn;
  readonly info: LogFn;
  readonly debug: LogFn;
}

/** A logger, or a function that takes one human-readable line per entry (see `lineLogger`). */
export type LogSink = Logger | ((line: string) => void);

/** pino's levels, most severe first; `silent` logs nothing. */
export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The level named by `value` (the `LOG_LEVEL` environment variable of the agent's and hub's
 * Deployments), case-insensitive; unset or empty is `info`.
 * @throws Error naming `from` and the accepted levels when `value` is not one of them.
 */
export function parseLogLevel(value: string | undefined, from = "LOG_LEVEL"): LogLevel {
  const v = (value ?? "").trim().toLowerCase();
  if (!v) return "info";
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new Error(
    `${from}=${JSON.stringify(value)} is not a log level: use one of ${LOG_LEVELS.join(", ")}`,
  );
}

/**
 * A pino logger writing one JSON object per line to the file descriptor `fd` (default 2,
 * stderr, so stdout stays free for command output), synchronously so nothing is lost when the
 * process exits (the agent exits to "reboot" a sandbox node). Entries carry `level` (pino's
 * number: 50 error, 40 warn, 30 info, 20 debug), an ISO `time`, `name`, `pid`, `hostname`, `msg`.
 */
export function processLogger(name: string, level: LogLevel, fd = 2): Logger {
  return pino(
    { name, level, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: fd, sync: true }),
  );
}

/**
 * Entries at info and above as single lines to `line`: the message, then `: <err.message>` when
 * the fields carry an error. Other fields and debug entries are left out: these are logs for
 * people watching a sandbox, where the message says what happened.
 */
export function lineLogger(line: (s: string) => void): Logger {
  const fn =
    (keep: boolean): LogFn =>
    (a: LogFields | string, msg?: string): void => {
      if (!keep) return;
      if (typeof a === "string") return line(a);
      const err = a.err instanceof Error ? `: ${a.err.message}` : "";
      line(`${msg ?? ""}${err}`);
    };
  return { error: fn(true), warn: fn(true), info: fn(true), debug: fn(false) };
}

const quiet: LogFn = (): void => {};
/** Logs nothing (the default of every component that takes a logger). */
export const SILENT: Logger = { error: quiet, warn: quiet, info: quiet, debug: quiet };

/** `sink` as a Logger: a function becomes a `lineLogger`, nothing becomes `SILENT`. */
export function toLogger(sink: LogSink | undefined): Logger {
  if (!sink) return SILENT;
  return typeof sink === "function" ? lineLogger(sink) : sink;
}
