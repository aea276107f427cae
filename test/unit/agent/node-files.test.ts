// The node files the agent carries into the new deployment before the pivot (LCA's network
// configuration, chrony, server SSH keys and LVM devices), on real folders.
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { copyNodeFiles } from "../../../addon/agent/stages/cluster-config.js";

describe("the node files carried across the pivot", () => {
  let work: string;
  let node: string; // the booted deployment
  let seed: string; // the new deployment, as the seed left it

  const put = (root: string, rel: string, content: string, mode = 0o644): void => {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content, { mode });
  };
  const read = (rel: string): string => readFileSync(join(seed, rel), "utf8");
  const sshKeys = (): string[] => readdirSync(join(seed, "etc", "ssh")).sort();

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), "ibu-node-files-"));
    node = join(work, "node");
    seed = join(work, "seed");
    put(seed, "etc/hostname", "seed\n");
    put(seed, "etc/NetworkManager/system-connections/seed.nmconnection", "seed", 0o600);
    put(seed, "etc/chrony.conf", "server seed.example.com\n");
    put(seed, "etc/ssh/sshd_config", "seed sshd config\n");
    put(seed, "etc/ssh/ssh_host_rsa_key", "seed rsa", 0o600);
    put(seed, "etc/ssh/ssh_host_rsa_key.pub", "seed rsa pub");
    put(seed, "etc/ssh/ssh_host_ed25519_key", "seed ed25519", 0o600);
    put(seed, "etc/ssh/ssh_host_ed25519_key.pub", "seed ed25519 pub");
    put(node, "etc/hostname", "sno-1\n");
    put(node, "etc/ssh/sshd_config", "node sshd config\n");
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it("replace the seed's host name, connections, chrony.conf, SSH host keys and LVM devices with the node's", () => {
    put(node, "etc/NetworkManager/system-connections/eno1.nmconnection", "node", 0o600);
    put(node, "etc/chrony.conf", "server ntp.site.example.com iburst\n");
    put(node, "etc/ssh/ssh_host_rsa_key", "node rsa", 0o600);
    put(node, "etc/ssh/ssh_host_rsa_key.pub", "node rsa pub");
    put(node, "etc/ssh/ssh_host_ecdsa_key", "node ecdsa", 0o600);
    put(node, "etc/ssh/ssh_host_ecdsa_key.pub", "node ecdsa pub");
    put(node, "etc/lvm/devices/system.devices", "IDTYPE=devname IDNAME=/dev/sdb\n");

    copyNodeFiles(node, seed);

    expect(read("etc/hostname")).toBe("sno-1\n");
    expect(readdirSync(join(seed, "etc/NetworkManager/system-connections"))).toEqual([
      "eno1.nmconnection",
    ]);
    expect(read("etc/chrony.conf")).toBe("server ntp.site.example.com iburst\n");
    // The seed's host keys all go (its ed25519 too); sshd_config is not a host key: the seed's.
    expect(sshKeys()).toEqual([
      "ssh_host_ecdsa_key",
      "ssh_host_ecdsa_key.pub",
      "ssh_host_rsa_key",
      "ssh_host_rsa_key.pub",
      "sshd_config",
    ]);
    expect(read("etc/ssh/ssh_host_rsa_key")).toBe("node rsa");
    expect(read("etc/ssh/sshd_config")).toBe("seed sshd config\n");
    expect(statSync(join(seed, "etc/ssh/ssh_host_rsa_key")).mode & 0o777).toBe(0o600);
    expect(statSync(join(seed, "etc/ssh/ssh_host_rsa_key.pub")).mode & 0o777).toBe(0o644);
    expect(read("etc/lvm/devices/system.devices")).toBe("IDTYPE=devname IDNAME=/dev/sdb\n");
  });

  it("keep the seed's chrony.conf and connections where the node has none, as LCA does", () => {
    copyNodeFiles(node, seed);
    expect(read("etc/chrony.conf")).toBe("server seed.example.com\n");
    expect(read("etc/NetworkManager/system-connections/seed.nmconnection")).toBe("seed");
  });

  it("remove the seed's SSH host keys where the node has none (fresh ones are made at boot)", () => {
    copyNodeFiles(node, seed);
    expect(sshKeys()).toEqual(["sshd_config"]);
  });

  it("end the same when run again (an agent killed half-way runs it again)", () => {
    put(node, "etc/ssh/ssh_host_rsa_key", "node rsa", 0o600);
    put(node, "etc/chrony.conf", "server ntp.site.example.com iburst\n");
    copyNodeFiles(node, seed);
    copyNodeFiles(node, seed);
    expect(sshKeys()).toEqual(["ssh_host_rsa_key", "sshd_config"]);
    expect(read("etc/chrony.conf")).toBe("server ntp.site.example.com iburst\n");
  });
});
