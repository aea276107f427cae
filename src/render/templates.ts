// Renders the Handlebars source-CR templates in templates/ (or a user's folder that overrides
// any of them, file by file) into Kubernetes objects. ACM hub templates ({{hub ... hub}}) in a
// template pass through untouched: the hub's policy propagator resolves them, not us.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Handlebars from "handlebars";
import { parseAllDocuments } from "yaml";
import { packageRoot } from "../package-root.js";

export const BUNDLED_TEMPLATES = join(packageRoot(), "templates");

export type TemplateName =
  | "ImageBasedUpgrade"
  | "PlatformBackupRestore"
  | "PlatformBackupRestoreLvms"
  | "ConfigMap"
  | "CatalogSource";

export type KubeObject = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
};

const HUB_TEMPLATE = /\{\{hub\b[\s\S]*?\bhub\}\}/g;
const PLACEHOLDER = /@@hub-template-(\d+)@@/g;

function engine(): typeof Handlebars {
  const hb = Handlebars.create();
  // Values are emitted as JSON, which is valid YAML: quoting and escaping are always right.
  hb.registerHelper("json", (v: unknown) => JSON.stringify(v ?? null));
  hb.registerHelper("default", (v: unknown, fallback: unknown) =>
    v === undefined || v === null || v === "" ? fallback : v,
  );
  return hb;
}

export class TemplateSet {
  private readonly hb = engine();
  private readonly compiled = new Map<
    string,
    { fn: HandlebarsTemplateDelegate; hub: string[]; file: string }
  >();

  /** `overrides`: a folder whose `<Name>.yaml.hbs` files replace the bundled ones. */
  constructor(private readonly overrides?: string) {}

  /** The file a template is read from: the user's override if present, else the bundled one. */
  fileFor(name: TemplateName): string {
    const own = this.overrides ? join(this.overrides, `${name}.yaml.hbs`) : undefined;
    return own && existsSync(own) ? own : join(BUNDLED_TEMPLATES, `${name}.yaml.hbs`);
  }

  /** Renders a template with `context` into the objects it describes. */
  render(name: TemplateName, context: object): KubeObject[] {
    const t = this.load(name);
    let text: string;
    try {
      text = t.fn(context).replace(PLACEHOLDER, (_, i: string) => t.hub[Number(i)] ?? "");
    } catch (err) {
      throw new Error(`template ${t.file}: ${(err as Error).message}`, { cause: err });
    }
    const objects: KubeObject[] = [];
    for (const doc of parseAllDocuments(text, { version: "1.1" })) {
      if (doc.errors.length)
        throw new Error(`template ${t.file} rendered invalid YAML: ${doc.errors[0]?.message}`);
      const obj = doc.toJS() as KubeObject | null;
      if (obj === null) continue;
      if (
        typeof obj.apiVersion !== "string" ||
        typeof obj.kind !== "string" ||
        typeof obj.metadata?.name !== "string"
      ) {
        throw new Error(
          `template ${t.file} rendered an object without apiVersion, kind and metadata.name`,
        );
      }
      objects.push(obj);
    }
    return objects;
  }

  private load(name: TemplateName): {
    fn: HandlebarsTemplateDelegate;
    hub: string[];
    file: string;
  } {
    const cached = this.compiled.get(name);
    if (cached) return cached;
    const file = this.fileFor(name);
    let source: string;
    try {
      source = readFileSync(file, "utf8");
    } catch (err) {
      throw new Error(`template ${name}: cannot read ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const hub: string[] = [];
    const protectedSource = source.replace(
      HUB_TEMPLATE,
      m => `@@hub-template-${hub.push(m) - 1}@@`,
    );
    let fn: HandlebarsTemplateDelegate;
    try {
      fn = this.hb.compile(protectedSource, { strict: false, noEscape: true });
      fn({}); // surface syntax errors now, with the file name
    } catch (err) {
      throw new Error(`template ${file}: ${(err as Error).message}`, { cause: err });
    }
    const entry = { fn, hub, file };
    this.compiled.set(name, entry);
    return entry;
  }
}
