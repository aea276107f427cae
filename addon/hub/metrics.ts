// A small Prometheus registry written by hand (text exposition format 0.0.4): counters,
// gauges (set, or collected at scrape time) and histograms, with label values escaped as the
// format requires. The hub exposes few series; a client library would add dependencies for
// little gain.

export type Labels = Readonly<Record<string, string>>;

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** Escapes HELP text: backslash and line feed. */
export function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

function labelText(names: readonly string[], values: readonly string[], extra = ""): string {
  const parts = names.map((n, i) => `${n}="${escapeLabelValue(values[i] ?? "")}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(",")}}` : "";
}

interface Metric {
  readonly name: string;
  render(): string[];
}

abstract class Base implements Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly type: "counter" | "gauge" | "histogram",
  ) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`bad metric name ${name}`);
  }

  protected values(labels: Labels): string[] {
    return this.labelNames.map(n => labels[n] ?? "");
  }

  protected header(): string[] {
    return [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
  }

  abstract render(): string[];
}

/** A monotonically increasing count per label set. */
export class Counter extends Base {
  private readonly series = new Map<string, { values: string[]; value: number }>();

  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames, "counter");
  }

  inc(labels: Labels = {}, by = 1): void {
    const values = this.values(labels);
    const key = JSON.stringify(values);
    const s = this.series.get(key);
    if (s) s.value += by;
    else this.series.set(key, { values, value: by });
  }

  get(labels: Labels = {}): number {
    return this.series.get(JSON.stringify(this.values(labels)))?.value ?? 0;
  }

  render(): string[] {
    const lines = this.header();
    for (const s of [...this.series.values()].sort(bySeries))
      lines.push(`${this.name}${labelText(this.labelNames, s.values)} ${formatValue(s.value)}`);
    return lines;
  }
}

/** A value per label set, either set directly or collected from a callback at scrape time. */
export class Gauge extends Base {
  private readonly series = new Map<string, { values: string[]; value: number }>();

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    private readonly collect?: () => Iterable<readonly [Labels, number]>,
  ) {
    super(name, help, labelNames, "gauge");
  }

  set(labels: Labels, value: number): void {
    const values = this.values(labels);
    this.series.set(JSON.stringify(values), { values, value });
  }

  render(): string[] {
    const lines = this.header();
    const series = new Map(this.series);
    if (this.collect) {
      series.clear();
      for (const [labels, value] of this.collect()) {
        const values = this.values(labels);
        series.set(JSON.stringify(values), { values, value });
      }
    }
    for (const s of [...series.values()].sort(bySeries))
      lines.push(`${this.name}${labelText(this.labelNames, s.values)} ${formatValue(s.value)}`);
    return lines;
  }
}

/** Cumulative buckets, sum and count per label set. */
export class Histogram extends Base {
  private readonly series = new Map<
    string,
    { values: string[]; counts: number[]; sum: number; count: number }
  >();
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: number[]) {
    super(name, help, labelNames, "histogram");
    this.buckets = [...buckets].sort((a, b) => a - b);
  }

  observe(labels: Labels, value: number): void {
    const values = this.values(labels);
    const key = JSON.stringify(values);
    let s = this.series.get(key);
    if (!s) {
      s = { values, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, s);
    }
    this.buckets.forEach((b, i) => {
      if (value <= b) s.counts[i]! += 1;
    });
    s.sum += value;
    s.count += 1;
  }

  count(labels: Labels = {}): number {
    return this.series.get(JSON.stringify(this.values(labels)))?.count ?? 0;
  }

  render(): string[] {
    const lines = this.header();
    for (const s of [...this.series.values()].sort(bySeries)) {
      this.buckets.forEach((b, i) => {
        const le = `le="${formatValue(b)}"`;
        lines.push(
          `${this.name}_bucket${labelText(this.labelNames, s.values, le)} ${s.counts[i] ?? 0}`,
        );
      });
      lines.push(
        `${this.name}_bucket${labelText(this.labelNames, s.values, 'le="+Inf"')} ${s.count}`,
      );
      lines.push(`${this.name}_sum${labelText(this.labelNames, s.values)} ${formatValue(s.sum)}`);
      lines.push(`${this.name}_count${labelText(this.labelNames, s.values)} ${s.count}`);
    }
    return lines;
  }
}

const bySeries = (a: { values: string[] }, b: { values: string[] }): number => {
  const x = a.values.join("\u0000");
  const y = b.values.join("\u0000");
  return x < y ? -1 : x > y ? 1 : 0;
};

export class Registry {
  private readonly metrics: Metric[] = [];

  register<M extends Metric>(m: M): M {
    if (this.metrics.some(x => x.name === m.name))
      throw new Error(`metric ${m.name} registered twice`);
    this.metrics.push(m);
    return m;
  }

  /** The whole exposition, ending in a line feed. */
  render(): string {
    return `${this.metrics.flatMap(m => m.render()).join("\n")}\n`;
  }
}

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";
