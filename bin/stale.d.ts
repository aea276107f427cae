// Types of bin/stale.js, for the tests' build step.
/** The first TypeScript source changed after the compiled `built` file, or undefined. */
export function newerSource(built: URL): string | undefined;
