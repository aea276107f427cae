// Certificates for test control planes, made with the openssl CLI: ECDSA P-256 keys (PKCS#8),
// a serving CA and certificate, a client CA that signs user certificates (CN = user,
// O = groups, which is how kube-apiserver reads them), and a service-account signer.
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const exec = promisify(execFile);

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await exec("openssl", args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") {
      throw new Error("openssl is not on PATH; install it (Debian: apt-get install openssl)", {
        cause: err,
      });
    }
    throw new Error(`openssl ${args.slice(0, 2).join(" ")} failed: ${e.stderr ?? e.message}`, {
      cause: err,
    });
  }
}

export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

/** A small certificate authority in a folder; file names are `<name>.crt` / `<name>.key`. */
export class TinyCa {
  private serial = 1;
  private constructor(
    readonly dir: string,
    readonly name: string,
  ) {}

  static async create(dir: string, name: string): Promise<TinyCa> {
    await openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.crt`,
        "-days",
        "7",
        "-subj",
        `/O=ibu-gitops-test/CN=${name}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
      ],
      dir,
    );
    return new TinyCa(dir, name);
  }

  /**
   * An existing CA whose files are `cert` and `key`; leaves it issues go to `outDir`.
   */
  static fromFiles(cert: string, key: string, outDir: string): TinyCa {
    const ca = new TinyCa(outDir, "ca");
    ca.caFiles = { cert, key };
    return ca;
  }

  private caFiles: { cert: string; key: string } | undefined;

  get certPath(): string {
    return this.caFiles?.cert ?? join(this.dir, `${this.name}.crt`);
  }

  get keyPath(): string {
    return this.caFiles?.key ?? join(this.dir, `${this.name}.key`);
  }

  /** Issues a leaf certificate `<file>.crt/.key`, signed by this CA. */
  async issue(
    file: string,
    subject: { cn: string; orgs?: readonly string[] },
    usage: "server" | "client",
    sans: readonly string[] = [],
  ): Promise<CertPair> {
    const subj = [
      ...(subject.orgs ?? []).map(o => `/O=${escapeSubject(o)}`),
      `/CN=${escapeSubject(subject.cn)}`,
    ].join("");
    await openssl(
      [
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        `${file}.key`,
        "-out",
        `${file}.csr`,
        "-subj",
        subj,
      ],
      this.dir,
    );
    const ext = [
      "basicConstraints=CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      `extendedKeyUsage=${usage === "server" ? "serverAuth" : "clientAuth"}`,
      ...(sans.length ? [`subjectAltName=${sans.join(",")}`] : []),
    ].join("\n");
    await writeFile(join(this.dir, `${file}.ext`), ext);
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        `${file}.csr`,
        "-CA",
        this.caFiles?.cert ?? `${this.name}.crt`,
        "-CAkey",
        this.caFiles?.key ?? `${this.name}.key`,
        "-set_serial",
        String(Date.now() * 1000 + this.serial++),
        "-days",
        "7",
        "-out",
        `${file}.crt`,
        "-extfile",
        `${file}.ext`,
      ],
      this.dir,
    );
    return { cert: join(this.dir, `${file}.crt`), key: join(this.dir, `${file}.key`) };
  }
}

function escapeSubject(value: string): string {
  return value.replace(/[/\\+=,]/g, c => `\\${c}`);
}

/** Reads a PEM file as base64, the form kubeconfig `*-data` fields take. */
export async function pemBase64(path: string): Promise<string> {
  return (await readFile(path)).toString("base64");
}
