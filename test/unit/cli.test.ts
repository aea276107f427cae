// The command line's rules: each command takes its own flags and refuses others, `--help` and
// `-h` print that command's usage, `-o` is the output format everywhere (synth's folder is
// --output-dir), and exit codes are 0 success, 1 failure, 2 usage. In-process through main(),
// plus the installed entry point as a process for the codes a shell sees.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parse } from "yaml";
import { main, program } from "../../src/cli/program.js";
import { readFileSync } from "node:fs";

/** Runs the CLI in-process; stdout and stderr as written. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation(s => ((out += String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation(s => ((err += String(s)), true));
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    vi.restoreAllMocks();
  }
}

afterEach(() => vi.restoreAllMocks());

const COMMANDS = ["synth", "validate", "plan", "agent", "stage", "status", "demo", "hub"];

describe("ibu-gitops command line", () => {
  it.each(COMMANDS)("%s --help and -h print the command's own usage and exit 0", async cmd => {
    for (const flag of ["--help", "-h"]) {
      const r = await run(cmd, flag);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(new RegExp(`^Usage: ibu-gitops ${cmd} `));
      expect(r.err).toBe("");
    }
  });

  it("prints seed build's usage, the version, and the overview", async () => {
    expect((await run("seed", "build", "--help")).out).toMatch(/^Usage: ibu-gitops seed build/);
    const v = await run("--version");
    expect(v.code).toBe(0);
    expect(v.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
    const help = await run("--help");
    for (const cmd of COMMANDS) expect(help.out).toContain(`  ${cmd} `);
  });

  it.each([
    ["status", "--spokes", "2"],
    ["plan", "--check"],
    ["validate", "--kubeconfig", "x"],
    ["demo", "--kubeconfig", "x"],
    ["synth", "--watch"],
    ["hub", "--spokes", "1"],
  ])("%s refuses a flag that belongs to another command (%s): exit 2", async (...argv) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`ibu-gitops ${argv[0]}: unknown option '${argv[1]}'`);
    expect(r.err).toContain(`ibu-gitops ${argv[0]} --help`);
    expect(r.out).toBe("");
  });

  it("refuses the old synth -o <folder> with a hint to --output-dir", async () => {
    const r = await run("synth", "-o", "policies");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/for the output folder use --output-dir policies/);
  });

  it("refuses an output format a command does not print, and a missing argument", async () => {
    const bad = await run("validate", "-o", "out");
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/Allowed choices are table, json, yaml/);
    const stage = await run("stage");
    expect(stage.code).toBe(2);
    expect(stage.err).toMatch(/missing required argument 'stage'/);
    expect((await run("stage", "Sideways", "--context", "a")).code).toBe(2);
    expect((await run("nosuch")).code).toBe(2);
    expect((await run()).code).toBe(2);
    expect((await run("synth", "stray")).code).toBe(2);
  }, 60_000);

  it("refuses a demo --pace or --spokes out of range before starting anything: exit 2", async () => {
    const pace = await run("demo", "--pace", "slowly");
    expect(pace.code).toBe(2);
    expect(pace.err).toMatch(/--pace: .*slowly/);
    expect(pace.out).toBe("");
    for (const n of ["0", "21", "two", "1.5"]) {
      const spokes = await run("demo", "--spokes", n);
      expect(spokes.code, n).toBe(2);
      expect(spokes.err).toMatch(/--spokes.*a whole number from 1 to 20/);
      expect(spokes.err).toContain("ibu-gitops demo --help");
    }
  }, 60_000);

  it("prints -o json and -o yaml for validate, and exits 1 on an invalid fleet without a stack", async () => {
    const json = await run("validate", "-f", "examples", "-o", "json");
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.out) as Array<{ fleet: string; valid: boolean }>;
    expect(parsed.map(f => f.fleet).sort()).toEqual(["du-sno", "du-sno-ibgu"]);
    const yaml = await run("validate", "-f", "examples/fleet.yaml", "-o", "yaml");
    expect(parse(yaml.out)).toEqual([expect.objectContaining({ fleet: "du-sno", valid: true })]);
    const missing = await run("validate", "-f", "no/such/fleet.yaml");
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/no\/such\/fleet\.yaml/);
    expect(missing.err).not.toMatch(/\n\s+at /);
  });

  it("synth --check -o json reports each fleet folder up to date", async () => {
    const r = await run("synth", "--check", "-o", "json");
    expect(r.code, r.err).toBe(0);
    const results = JSON.parse(r.out) as Array<{ fleet: string; result: string; dir: string }>;
    expect(results.map(x => [x.fleet, x.result, x.dir]).sort()).toEqual([
      ["du-sno", "up-to-date", join("policies", "du-sno")],
      ["du-sno-ibgu", "up-to-date", join("policies", "du-sno-ibgu")],
    ]);
  });

  it("says plainly when the kubeconfig is missing: exit 1, no stack", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ibu-cli-"));
    try {
      const file = join(dir, "nope");
      const r = await run("status", "--kubeconfig", file);
      expect(r.code).toBe(1);
      expect(r.err).toBe(
        `ibu-gitops status: no kubeconfig at ${file} (from --kubeconfig): give the hub's kubeconfig with --kubeconfig <file> or KUBECONFIG\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses an unknown LOG_LEVEL for agent and hub in one line before anything starts: exit 1", async () => {
    vi.stubEnv("LOG_LEVEL", "loud");
    try {
      for (const argv of [["agent", "--sysroot", "/nonexistent"], ["hub"]]) {
        const r = await run(...argv);
        expect(r.code).toBe(1);
        expect(r.err).toBe(
          `ibu-gitops ${argv[0]}: LOG_LEVEL="loud" is not a log level: use one of fatal, error, warn, info, debug, trace, silent\n`,
        );
      }
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it("plan -o yaml carries every step with its state, batches and window", async () => {
    const r = await run("plan", "-f", "examples/fleet.yaml", "-o", "yaml");
    expect(r.code, r.err).toBe(0);
    const [fleet] = parse(r.out) as Array<{
      windowMinutes: number;
      groups: Array<{ group: string; steps: Array<{ object: string; state: string }> }>;
    }>;
    const canary = fleet!.groups.find(g => g.group === "canary")!;
    // The committed output's CGUs, in order: the kept prep CGU, then the upgrade one.
    const committed = readFileSync("policies/du-sno/upgrades/canary.yaml", "utf8");
    const names = [...committed.matchAll(/^ {2}name: (\S+)$/gm)].map(m => m[1]);
    expect(canary.steps.map(s => [s.object, s.state])).toEqual([
      [names[0], "earlier commit"],
      [names[1], "pending"],
    ]);
    expect(fleet!.windowMinutes).toBeGreaterThan(0);
  });

  it("has every command and flag of --help in the README's command table", () => {
    const readme = readFileSync("README.md", "utf8");
    const p = program({ code: 0 });
    const commands = [...p.commands, ...p.commands.flatMap(c => c.commands)].filter(
      c => c.options.length,
    );
    expect(commands.length).toBe(9);
    for (const c of commands) {
      const path = c.parent === p ? c.name() : `${c.parent!.name()} ${c.name()}`;
      const row = readme.split("\n").find(l => l.startsWith(`| \`npx ibu-gitops ${path} `));
      expect(row, `README row for ${path}`).toBeDefined();
      for (const o of c.options) {
        if (o.long === "--help") continue;
        // A flag is in the row by its long or, where it has one, its short name.
        const named = [o.long!, ...(o.short ? [o.short] : [])].some(f =>
          new RegExp(`${f}(?![\\w-])`).test(row!),
        );
        expect(named, `${path} ${o.flags}`).toBe(true);
      }
    }
  });

  it("gives a shell the same exit codes from the entry point", () => {
    const cli = (...args: string[]): number | null =>
      spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], {
        encoding: "utf8",
      }).status;
    expect(cli("--version")).toBe(0);
    expect(cli("status", "--spokes", "2")).toBe(2);
    expect(cli("validate", "-f", "no/such.yaml")).toBe(1);
  }, 60_000);
});
