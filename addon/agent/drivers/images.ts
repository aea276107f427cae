// The images driver: seed inspection, and the precache store that images are copied into with
// skopeo and can be listed, sized and removed. Credentials come from an auth file.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { run } from "../exec.js";

export interface RegistryAccess {
  /** containers-auth.json style file with registry credentials. */
  readonly authfile?: string;
  /** false for plain-HTTP or self-signed test registries. */
  readonly tlsVerify?: boolean;
}

function srcFlags(a: RegistryAccess): string[] {
  return [
    ...(a.authfile ? [`--authfile=${a.authfile}`] : []),
    ...(a.tlsVerify === false ? ["--tls-verify=false"] : []),
  ];
}

function copyFlags(a: RegistryAccess): string[] {
  return [
    ...(a.authfile ? [`--src-authfile=${a.authfile}`] : []),
    ...(a.tlsVerify === false ? ["--src-tls-verify=false"] : []),
  ];
}

/** The labels of a remote image (`skopeo inspect`). */
export async function inspectLabels(
  image: string,
  access: RegistryAccess,
): Promise<Record<string, string>> {
  const out = await run("skopeo", [
    "inspect",
    "--retry-times=2",
    ...srcFlags(access),
    `docker://${image}`,
  ]);
  return (JSON.parse(out) as { Labels?: Record<string, string> | null }).Labels ?? {};
}

/**
 * A store of pulled images: one OCI layout per image, named after its reference. Separate
 * layouts let pulls run in parallel (one shared index.json would race); a pull lands in a
 * temporary folder renamed into place, so a crash never leaves half an image that counts.
 */
export class ImageStore {
  constructor(readonly root: string) {}

  /** The store's name for an image reference. */
  static nameOf(image: string): string {
    return image.replace(/[^A-Za-z0-9._-]/g, "_");
  }

  /** Names of the images in the store. */
  list(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root)
      .filter(n => !n.includes(".partial-") && existsSync(join(this.root, n, "index.json")))
      .sort();
  }

  has(image: string): boolean {
    return existsSync(join(this.root, ImageStore.nameOf(image), "index.json"));
  }

  async pull(image: string, access: RegistryAccess): Promise<void> {
    mkdirSync(this.root, { recursive: true });
    const name = ImageStore.nameOf(image);
    const partial = join(this.root, `${name}.partial-${process.pid}`);
    rmSync(partial, { recursive: true, force: true });
    try {
      await run("skopeo", [
        "copy",
        "--quiet",
        "--retry-times=2",
        ...copyFlags(access),
        `docker://${image}`,
        `oci:${partial}:latest`,
      ]);
      rmSync(join(this.root, name), { recursive: true, force: true });
      renameSync(partial, join(this.root, name));
    } finally {
      rmSync(partial, { recursive: true, force: true });
    }
  }

  private get pinFile(): string {
    return join(this.root, ".pinned");
  }

  /** Pinned images are never removed by cleanup (like CRI-O's pinned_images). */
  pin(image: string): void {
    mkdirSync(this.root, { recursive: true });
    const pinned = new Set(this.pinned());
    pinned.add(ImageStore.nameOf(image));
    writeFileSync(this.pinFile, [...pinned].sort().join("\n") + "\n");
  }

  pinned(): string[] {
    return existsSync(this.pinFile)
      ? readFileSync(this.pinFile, "utf8").split("\n").filter(Boolean)
      : [];
  }

  /** Images with the time they were stored, oldest first. */
  entries(): Array<{ name: string; storedAt: number; pinned: boolean }> {
    const pinned = new Set(this.pinned());
    return this.list()
      .map(name => ({
        name,
        storedAt: statSync(join(this.root, name)).mtimeMs,
        pinned: pinned.has(name),
      }))
      .sort((a, b) => a.storedAt - b.storedAt || a.name.localeCompare(b.name));
  }

  removeNames(names: readonly string[]): void {
    for (const n of names) rmSync(join(this.root, n), { recursive: true, force: true });
  }

  /** Removes images by reference. */
  remove(images: readonly string[]): Promise<void> {
    for (const image of images)
      rmSync(join(this.root, ImageStore.nameOf(image)), { recursive: true, force: true });
    return Promise.resolve();
  }

  /** Bytes the store holds on disk. */
  sizeBytes(): number {
    const walk = (d: string): number =>
      readdirSync(d).reduce((sum, f) => {
        const p = join(d, f);
        const st = statSync(p);
        return sum + (st.isDirectory() ? walk(p) : st.size);
      }, 0);
    return existsSync(this.root) ? walk(this.root) : 0;
  }
}
