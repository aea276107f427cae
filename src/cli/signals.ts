// Stopping cleanly however the CLI was started. SIGINT and SIGTERM end the long-running
// commands through one AbortSignal; started through npm (`npx ibu-gitops`, `npm start`), the
// process also stops when npm goes away without passing the signal on (its shell dies and the
// CLI is re-parented), so no demo or hub is left running with its child processes.

let controller: AbortController | undefined;

/**
 * The process-wide stop signal: aborted on the first SIGINT or SIGTERM (the reason names the
 * signal). A second signal while stopping ends the process at once with 128 + the signal number.
 */
export function shutdownSignal(): AbortSignal {
  if (controller) return controller.signal;
  const c = new AbortController();
  controller = c;
  for (const [sig, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.on(sig, () => {
      if (c.signal.aborted) process.exit(code);
      c.abort(sig);
    });
  }
  return c.signal;
}

/**
 * When started by npm (npm sets `npm_command`), checks every `everyMs` whether the parent is
 * still the one that started us, and sends ourselves SIGTERM when it is not: npm forwards
 * signals to its shell, and a shell killed while it waits does not forward them to us. Not
 * done otherwise, so `nohup ibu-gitops hub &` survives its shell as a user expects.
 */
export function stopWithNpm(env = process.env, everyMs = 500): void {
  if (!env.npm_command) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, "SIGTERM");
  }, everyMs);
  timer.unref();
}
