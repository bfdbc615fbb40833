import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import {
  checkDockerLogin,
  CONFIG_KEYS,
  ConfigError,
  GITHUB_RUNNER_DOMAINS,
  githubApiUrlOf,
  NAMESPACE,
  parseConfig,
  proxmoxLogin,
  SECRET_KEYS,
} from "../../infra/config";
import { projectFile } from "../../infra/project";
import { projectKeys, PROJECT_ROOT, readStackFile } from "../../infra/stackfile";
import { withNodeHosts } from "../helpers/program";

/** The smallest valid raw config: every key has a default (the SSH key is a secret, see ssh.test.ts) but the nodes' addresses ephemeral mode needs. */
const base = (extra: Record<string, string> = {}) => withNodeHosts({ ...extra });

function errorOf(raw: Record<string, string>): ConfigError {
  try {
    parseConfig(raw);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(raw)} to be refused`);
}

/**
 * The stack's config as the real CLI hands it to the program: every project
 * default of Pulumi.yaml copied in beside what the stack file sets (issue 11,
 * finding 3), each as the string the CLI passes (lists as JSON).
 */
function asTheCliPassesIt(raw: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, spec] of Object.entries(CONFIG_KEYS)) {
    if (spec.default !== undefined)
      out[k] = typeof spec.default === "string" ? spec.default : JSON.stringify(spec.default);
  }
  return { ...out, ...raw };
}

describe("config: stack configuration", () => {
  describe("a new release needs its own checksum, with or without the defaults copied in", () => {
    for (const [shape, shaped] of [
      ["as mocks pass it", (r: Record<string, string>) => r],
      ["as the CLI passes it", asTheCliPassesIt],
    ] as const) {
      it(`${shape}: a new version with the old checksum is refused, with its checksum accepted`, () => {
        expect(errorOf(shaped(base({ runnerVersion: "2.330.0" }))).key).to.equal("runnerSha256");
        expect(errorOf(shaped(base({ nodeVersion: "22.22.0" }))).key).to.equal("nodeSha256");
        const c = parseConfig(
          shaped(
            base({
              runnerVersion: "2.330.0",
              runnerSha256: "a".repeat(64),
              nodeVersion: "22.22.0",
              nodeSha256: "b".repeat(64),
            }),
          ),
        );
        expect(c.runners).to.include({ version: "2.330.0", sha256: "a".repeat(64) });
        expect(c.stats).to.include({ nodeVersion: "22.22.0", nodeSha256: "b".repeat(64) });
        // The defaults themselves are a matching pair.
        expect(parseConfig(shaped(base())).runners.version).to.equal("2.329.0");
      });
    }
  });

  describe("Docker in jobs needs root@pam's own login (keyctl)", () => {
    const password = { "proxmoxve:password": "secret" };
    it("refuses an API token, even root@pam's, and says why", () => {
      const err = (() => {
        try {
          checkDockerLogin(
            true,
            proxmoxLogin({
              "proxmoxve:apiToken": "root@pam!cco=00000000-0000-0000-0000-000000000000",
              "proxmoxve:username": "root@pam",
              ...password,
            }),
          );
        } catch (e) {
          return e as ConfigError;
        }
        throw new Error("not refused");
      })();
      expect(err).to.be.instanceOf(ConfigError);
      expect(err.message).to.equal(
        "Invalid config cco-infra:dockerInJobs = true (Docker in jobs needs keyctl, which Proxmox lets only root@pam itself turn on; " +
          "the provider logs in with proxmoxve:apiToken, and an API token (even root@pam's) is not root@pam). " +
          "Allowed: false, or true with proxmoxve:username root@pam, proxmoxve:password set (--secret) and no proxmoxve:apiToken.",
      );
    });
    it("refuses another user, or root@pam without a password", () => {
      expect(() => checkDockerLogin(true, proxmoxLogin({ "proxmoxve:username": "ops@pve", ...password }))).to.throw(
        ConfigError,
        /logs in as ops@pve\)/,
      );
      expect(() => checkDockerLogin(true, proxmoxLogin({ "proxmoxve:username": "root@pam" }))).to.throw(
        ConfigError,
        /as root@pam without proxmoxve:password/,
      );
      expect(() => checkDockerLogin(true, proxmoxLogin({}))).to.throw(ConfigError, /proxmoxve:username is not set/);
    });
    it("accepts root@pam with its password, and anything without Docker in jobs", () => {
      expect(() =>
        checkDockerLogin(true, proxmoxLogin({ "proxmoxve:username": "root@pam", ...password })),
      ).to.not.throw();
      expect(() =>
        checkDockerLogin(
          false,
          proxmoxLogin({ "proxmoxve:apiToken": "ops@pve!cco=00000000-0000-0000-0000-000000000000" }),
        ),
      ).to.not.throw();
      // A value the provider would not take as a token (it then fails on its own) is not mistaken for one.
      expect(() =>
        checkDockerLogin(
          true,
          proxmoxLogin({
            "proxmoxve:apiToken": "PLACEHOLDER-PROXMOXVE-APITOKEN",
            "proxmoxve:username": "root@pam",
            ...password,
          }),
        ),
      ).to.not.throw();
    });
  });

  describe("refuses bad values, naming the key, the value and what is allowed", () => {
    const cases: Array<[string, Record<string, string>, string, RegExp]> = [
      [
        "too few runners",
        { runnerCount: "3" },
        "runnerCount",
        /^Invalid config cco-infra:runnerCount = 3\. Allowed: a whole number from 4 to 10\.$/,
      ],
      [
        "a runner mode that does not exist",
        { runnerMode: "ephemereal" },
        "runnerMode",
        /^Invalid config cco-infra:runnerMode = "ephemereal"\. Allowed: ephemeral or persistent\.$/,
      ],
      [
        "ephemeral runners without the nodes' addresses",
        { proxmoxNodeHosts: "[]" },
        "proxmoxNodeHosts",
        /^Invalid config cco-infra:proxmoxNodeHosts = \[\] \(runnerMode ephemeral installs a controller on each Proxmox node over SSH: give one address per node of proxmoxNodes \["pve"\], in the same order\)\. Allowed: a list of distinct IPv4 addresses or DNS names, one per entry of proxmoxNodes\.$/,
      ],
      [
        "fewer node addresses than nodes",
        { proxmoxNodes: '["pve1","pve2"]', proxmoxNodeHosts: '["192.0.2.10"]' },
        "proxmoxNodeHosts",
        /one address per node of proxmoxNodes \["pve1","pve2"\]/,
      ],
      [
        "a node address that is neither IPv4 nor a DNS name",
        { proxmoxNodeHosts: '["pve one"]' },
        "proxmoxNodeHosts",
        /proxmoxNodeHosts = \["pve one"\] \(item 1 is invalid\)/,
      ],
      [
        "a GitHub URL with a path (issue 13: one setting for the runner URL and the API)",
        { githubServerUrl: "https://github.com/brentley" },
        "githubServerUrl",
        /cco-infra:githubServerUrl = "https:\/\/github\.com\/brentley"\. Allowed: https:\/\/github\.com, https:\/\/HOST or https:\/\/NAME\.ghe\.com/,
      ],
      [
        "a plain-http GitHub",
        { githubServerUrl: "http://ghe.example.com" },
        "githubServerUrl",
        /cco-infra:githubServerUrl = "http:\/\/ghe\.example\.com"\. Allowed/,
      ],
      [
        "too many runners",
        { runnerCount: "11" },
        "runnerCount",
        /cco-infra:runnerCount = 11\. Allowed: a whole number from 4 to 10/,
      ],
      [
        "a fractional runner count",
        { runnerCount: "4.5" },
        "runnerCount",
        /cco-infra:runnerCount = "4\.5" \(not a whole number\)\. Allowed: a whole number from 4 to 10/,
      ],
      [
        "a runner count that is not a number",
        { runnerCount: "four" },
        "runnerCount",
        /runnerCount = "four" \(not a whole number\)/,
      ],
      [
        "too little memory",
        { runnerMemoryMb: "1024" },
        "runnerMemoryMb",
        /runnerMemoryMb = 1024\. Allowed: a whole number of MB from 2048/,
      ],
      [
        "too small a disk",
        { runnerDiskGb: "10" },
        "runnerDiskGb",
        /runnerDiskGb = 10\. Allowed: a whole number of GB from 20/,
      ],
      ["one core", { runnerCores: "1" }, "runnerCores", /runnerCores = 1\. Allowed: a whole number from 2 to 128/],
      [
        "a stats vmId among the runners'",
        { vmIdStart: "200", statsVmId: "205" },
        "statsVmId",
        /statsVmId = 205 \(collides with the runners' vmIds 200-209\)/,
      ],
      [
        "a vmId below Proxmox's range",
        { vmIdStart: "99" },
        "vmIdStart",
        /vmIdStart = 99\. Allowed: a whole number from 100/,
      ],
      [
        "runner addresses past the block",
        { networkCidr: "192.168.1.0/24", runnerIpStart: "192.168.1.250" },
        "runnerIpStart",
        /runnerIpStart = "192\.168\.1\.250" \(192\.168\.1\.250-192\.168\.2\.3 does not fit in 192\.168\.1\.0\/24\)/,
      ],
      [
        "the stats address among the runners'",
        { runnerIpStart: "192.168.1.200", statsIp: "192.168.1.203" },
        "statsIp",
        /statsIp = "192\.168\.1\.203" \(among the runners' ten addresses/,
      ],
      [
        "the gateway among the runners'",
        { networkGateway: "192.168.1.201" },
        "runnerIpStart",
        /the gateway 192\.168\.1\.201 is among the runners' ten addresses/,
      ],
      [
        "a stats address outside the block",
        { statsIp: "10.0.0.5" },
        "statsIp",
        /statsIp = "10\.0\.0\.5" \(not a host address in 192\.168\.1\.0\/24\)/,
      ],
      [
        "a block with host bits",
        { networkCidr: "192.168.1.7/24" },
        "networkCidr",
        /networkCidr = "192\.168\.1\.7\/24"\. Allowed: an IPv4 block/,
      ],
      [
        "an address that is not one",
        { networkGateway: "192.168.1.300" },
        "networkGateway",
        /networkGateway = "192\.168\.1\.300"/,
      ],
      [
        "an unknown node in placement",
        { proxmoxNodes: '["pve1","pve2"]', runnerPlacement: '["pve1","pve3"]' },
        "runnerPlacement",
        /runnerPlacement = \["pve1","pve3"\] \(item 2 "pve3" is not in proxmoxNodes \["pve1","pve2"\]\)/,
      ],
      [
        "a gateway vmId among the runners'",
        { gatewayVmId: "203" },
        "gatewayVmId",
        /gatewayVmId = 203 \(collides with the runners' vmIds 200-209\)/,
      ],
      [
        "the gateway vmId of the stats service",
        { gatewayVmId: "210" },
        "gatewayVmId",
        /gatewayVmId = 210 \(is statsVmId\)/,
      ],
      [
        "the gateway's address among the runners'",
        { gatewayIp: "192.168.1.205" },
        "gatewayIp",
        /gatewayIp = "192\.168\.1\.205" \(among the runners' ten addresses/,
      ],
      [
        "the gateway's address that of the stats service",
        { gatewayIp: "192.168.1.210" },
        "gatewayIp",
        /gatewayIp = "192\.168\.1\.210" \(is statsIp\)/,
      ],
      [
        "the gateway's address outside the block",
        { gatewayIp: "10.1.1.1" },
        "gatewayIp",
        /gatewayIp = "10\.1\.1\.1" \(not a host address in 192\.168\.1\.0\/24\)/,
      ],
      [
        "the gateway's port that of the stats service",
        { gatewayPort: "8080" },
        "gatewayPort",
        /gatewayPort = 8080 \(is statsPort\)\. Allowed: a whole number from 1024 to 65535, not statsPort/,
      ],
      [
        "an unknown egress mode",
        { egressMode: "transparent" },
        "egressMode",
        /egressMode = "transparent"\. Allowed: gateway or direct/,
      ],
      [
        "an unknown stats node",
        { statsNode: "pve9" },
        "statsNode",
        /statsNode = "pve9" \(not in proxmoxNodes \["pve"\]\)/,
      ],
      [
        "duplicate nodes",
        { proxmoxNodes: '["pve","pve"]' },
        "proxmoxNodes",
        /proxmoxNodes = \["pve","pve"\] \(has duplicates\)/,
      ],
      [
        "a label with a space",
        { runnerLabels: '["gpu box"]' },
        "runnerLabels",
        /runnerLabels = \["gpu box"\] \(item 1 is invalid\)\. Allowed: a list of distinct labels/,
      ],
      [
        "a label with a comma",
        { runnerLabels: '["a,b"]' },
        "runnerLabels",
        /runnerLabels = \["a,b"\] \(item 1 is invalid\)/,
      ],
      ["self-hosted listed again", { runnerLabels: '["Self-Hosted"]' }, "runnerLabels", /without self-hosted/],
      ["labels that are not a list", { runnerLabels: "gpu" }, "runnerLabels", /runnerLabels = "gpu" \(not a list\)/],
      [
        "a runner version without its SHA-256",
        { runnerVersion: "2.330.0" },
        "runnerSha256",
        /runnerSha256 = "194f1e1e\w+" \(that is the checksum of 2\.329\.0, but cco-infra:runnerVersion is 2\.330\.0: set the checksum of 2\.330\.0\)\. Allowed: 64 lowercase hex digits/,
      ],
      [
        "a runner checksum that is not SHA-256",
        { runnerSha256: "abc" },
        "runnerSha256",
        /runnerSha256 = "abc"\. Allowed: 64 lowercase hex digits/,
      ],
      [
        "a Node.js version without its SHA-256",
        { nodeVersion: "22.22.0" },
        "nodeSha256",
        /nodeSha256 = "680d3f30\w+" \(that is the checksum of 22\.21\.1, but cco-infra:nodeVersion is 22\.22\.0/,
      ],
      [
        "DHCP mode (dropped)",
        { networkMode: "dhcp" },
        "networkMode",
        /networkMode = "dhcp" \(DHCP mode was dropped: the provider reads a DHCP address once.*\)\. Allowed: static\.$/,
      ],
      [
        "an SSH user other than root",
        { sshUser: "deploy" },
        "sshUser",
        /sshUser = "deploy" \(Proxmox installs the SSH key for root only, and provisioning writes under \/root\)\. Allowed: root\.$/,
      ],
      [
        "a Node.js older than 20",
        { nodeVersion: "18.20.4", nodeSha256: "a".repeat(64) },
        "nodeVersion",
        /nodeVersion = "18\.20\.4"\. Allowed: a version like 22\.21\.1 \(20 or later\)/,
      ],
      [
        "an egress domain that is not a domain",
        { egressDomains: '["github.com","https://evil.example/"]' },
        "egressDomains",
        /egressDomains = \["github\.com","https:\/\/evil\.example\/"\] \(item 2 is invalid\)\. Allowed: a non-empty list of distinct lowercase domain names/,
      ],
      ["a wildcard egress domain", { egressDomains: '["*.github.com"]' }, "egressDomains", /item 1 is invalid/],
      ["an empty allowlist", { egressDomains: "[]" }, "egressDomains", /egressDomains = \[\] \(is empty\)/],
      [
        "a bad extra CIDR",
        { egressExtraCidrs: '["10.0.0.0/33"]' },
        "egressExtraCidrs",
        /egressExtraCidrs = \["10\.0\.0\.0\/33"\] \(item 1 is invalid\)/,
      ],
      [
        "a plain http runner mirror",
        { runnerTarballUrl: "http://mirror/x.tgz" },
        "runnerTarballUrl",
        /Allowed: an https URL/,
      ],
      [
        "the removed SSH public key (it is derived from the private one)",
        { sshPublicKey: "ssh-ed25519 AAAA x" },
        "sshPublicKey",
        /sshPublicKey = "ssh-ed25519 AAAA x" \(the public key is derived from the secret sshPrivateKey now, so the two cannot disagree; remove it: pulumi config rm cco-infra:sshPublicKey\)\. Allowed: nothing: the key was removed\.$/,
      ],
      [
        "an unknown protection mode",
        { protectionMode: "strict" },
        "protectionMode",
        /protectionMode = "strict"\. Allowed: classic or ruleset/,
      ],
      [
        "zero approvals",
        { requiredApprovals: "0" },
        "requiredApprovals",
        /requiredApprovals = 0\. Allowed: a whole number from 1 to 6/,
      ],
      [
        "a boolean that is not one",
        { dockerInJobs: "yes" },
        "dockerInJobs",
        /dockerInJobs = "yes" \(not true or false\)\. Allowed: true or false/,
      ],
      [
        "an unknown key (a typo)",
        { runnerCont: "5" },
        "runnerCont",
        /runnerCont = "5" \(unknown key\)\. Allowed: one of the keys declared in Pulumi\.yaml/,
      ],
    ];
    for (const [what, raw, key, message] of cases) {
      it(`${what} (${key})`, () => {
        const err = errorOf(base(raw));
        expect(err.key).to.equal(key);
        expect(err.message).to.match(message);
      });
    }
  });

  it("egressMode: the gateway by default; direct declares none, and does not check the gateway's keys", () => {
    const byDefault = parseConfig(base());
    expect(byDefault.egress.mode).to.equal("gateway");
    expect(byDefault.gateway).to.include({ ip: "192.168.1.211", port: 3128, vmId: 211 });
    const direct = parseConfig(base({ egressMode: "direct", gatewayIp: "192.168.1.205", gatewayPort: "8080" }));
    expect(direct.egress.mode).to.equal("direct");
    expect(direct.gateway).to.equal(undefined);
    expect(() => parseConfig(base({ gatewayIp: "192.168.1.205" }))).to.throw(ConfigError, /gatewayIp/);
  });

  it("refuses SSH from anywhere (adminCidr 0.0.0.0/0) unless a second key says it is meant", () => {
    const err = errorOf(base({ adminCidr: "0.0.0.0/0" }));
    expect(err.key).to.equal("adminCidr");
    expect(err.message).to.equal(
      'Invalid config cco-infra:adminCidr = "0.0.0.0/0" (that lets any address try SSH into every container; narrow it, or set adminCidrAnywhere: true to mean it). ' +
        "Allowed: an IPv4 block; 0.0.0.0/0 (SSH from anywhere) only with adminCidrAnywhere: true.",
    );
    expect(parseConfig(base({ adminCidr: "0.0.0.0/0", adminCidrAnywhere: "true" })).network.adminCidr).to.equal(
      "0.0.0.0/0",
    );
    expect(parseConfig(base({ adminCidr: "10.0.0.0/8" })).network.adminCidr).to.equal("10.0.0.0/8");
  });

  it("says what is allowed of every whole-number key from the very bounds its rule enforces", () => {
    for (const [name, spec] of Object.entries(CONFIG_KEYS)) {
      if (spec.type !== "integer") continue;
      const m = /from (\d+) to (\d+)/.exec(spec.allowed);
      expect(m, `${name}: ${spec.allowed}`).to.not.equal(null);
      const [min, max] = [Number(m![1]), Number(m![2])];
      for (const ok of [min, max]) expect(spec.schema.safeParse(ok).success, `${name} ${ok}`).to.equal(true);
      for (const bad of [min - 1, max + 1])
        expect(spec.schema.safeParse(bad).success, `${name} ${bad}`).to.equal(false);
    }
  });

  describe("derives the fleet", () => {
    it("names runners runner-01..NN with stable vmIds and addresses", () => {
      const c = parseConfig(base({ runnerCount: "7" }));
      expect(c.runners.instances.map((r) => r.name)).to.deep.equal([
        "runner-01",
        "runner-02",
        "runner-03",
        "runner-04",
        "runner-05",
        "runner-06",
        "runner-07",
      ]);
      expect(c.runners.instances.map((r) => r.vmId)).to.deep.equal([200, 201, 202, 203, 204, 205, 206]);
      expect(c.runners.instances[6]!.ip).to.equal("192.168.1.206");
    });

    it("keeps the first runners identical when the count changes", () => {
      const seven = parseConfig(base({ runnerCount: "7", proxmoxNodes: '["a","b","c"]' })).runners.instances;
      const four = parseConfig(base({ runnerCount: "4", proxmoxNodes: '["a","b","c"]' })).runners.instances;
      expect(seven.slice(0, 4)).to.deep.equal(four);
    });

    it("spreads runners round-robin over nodes, after explicit placement", () => {
      const c = parseConfig(base({ runnerCount: "5", proxmoxNodes: '["a","b","c"]', runnerPlacement: '["c"]' }));
      expect(c.runners.instances.map((r) => r.node)).to.deep.equal(["c", "b", "c", "a", "b"]);
    });

    it("adds egressExtraDomains to egressDomains, once each", () => {
      const c = parseConfig(
        base({
          egressDomains: '["github.com","crates.io"]',
          egressExtraDomains: '["crates.io","static.rust-lang.org"]',
        }),
      );
      expect(c.egress.domains).to.deep.equal(["github.com", "crates.io", "static.rust-lang.org"]);
    });

    it("puts self-hosted first among the labels", () => {
      expect(parseConfig(base({ runnerLabels: '["gpu","x64"]' })).runners.labels).to.deep.equal([
        "self-hosted",
        "gpu",
        "x64",
      ]);
    });

    it("fills the version into download URLs", () => {
      const c = parseConfig(base());
      expect(c.runners.tarballUrl).to.equal(
        "https://github.com/actions/runner/releases/download/v2.329.0/actions-runner-linux-x64-2.329.0.tar.gz",
      );
      expect(c.stats.nodeTarballUrl).to.equal("https://nodejs.org/dist/v22.21.1/node-v22.21.1-linux-x64.tar.xz");
    });

    it("runs ephemeral runners by default, each node's SSH address by its name; persistent needs no addresses", () => {
      const c = parseConfig(
        base({ proxmoxNodes: '["pve1","pve2"]', proxmoxNodeHosts: '["192.0.2.10","pve2.example.org"]' }),
      );
      expect(c.runners.mode).to.equal("ephemeral");
      expect(c.proxmox.nodeHosts).to.deep.equal({ pve1: "192.0.2.10", pve2: "pve2.example.org" });
      const p = parseConfig({ runnerMode: "persistent" });
      expect(p.runners.mode).to.equal("persistent");
      expect(p.proxmox.nodeHosts).to.deep.equal({});
    });

    it("has the design's defaults: 4 runners of 4 cores, 8192 MB, 50 GB, self-hosted", () => {
      const c = parseConfig(base());
      expect(c.runners).to.include({
        count: 4,
        mode: "ephemeral",
        cores: 4,
        memoryMb: 8192,
        diskGb: 50,
        autoUpdate: true,
        dockerInJobs: false,
      });
      expect(c.runners.labels).to.deep.equal(["self-hosted"]);
      expect(c.egress.domains).to.deep.equal([...GITHUB_RUNNER_DOMAINS]);
    });
  });

  describe("project and stack files", () => {
    it("Pulumi.yaml is what infra/config.ts declares (npm run sync:project)", () => {
      expect(readFileSync(join(PROJECT_ROOT, "Pulumi.yaml"), "utf8")).to.equal(projectFile());
    });

    it("declares every key with a type Pulumi accepts, a description, and the default", () => {
      const project = parse(readFileSync(join(PROJECT_ROOT, "Pulumi.yaml"), "utf8"));
      expect(project.name).to.equal(NAMESPACE);
      expect(project.runtime.name).to.equal("nodejs");
      const declared = Object.keys(project.config);
      expect(declared).to.have.members([...Object.keys(CONFIG_KEYS), ...Object.keys(SECRET_KEYS)]);
      for (const [k, spec] of Object.entries<Record<string, unknown>>(project.config)) {
        // Pulumi's project schema: these properties only, type from this set, items for arrays.
        expect(
          Object.keys(spec).every((p) => ["type", "description", "default", "items", "secret"].includes(p)),
          k,
        ).to.equal(true);
        expect(["string", "integer", "boolean", "array"]).to.include(spec.type);
        if (spec.type === "array") expect(spec.items, k).to.deep.equal({ type: "string" });
        expect(spec.description, k).to.be.a("string").and.not.empty;
      }
      expect(project.config.sshPrivateKey.secret).to.equal(true);
    });

    for (const stack of ["dev", "prod"]) {
      it(`Pulumi.${stack}.yaml is valid and keeps no secret in clear`, () => {
        const { values, encrypted } = readStackFile(stack);
        expect(() => parseConfig(projectKeys(values, NAMESPACE))).to.not.throw();
        expect(encrypted).to.deep.equal([]);
        for (const k of Object.keys(values)) expect(k).to.not.match(/token|password|secret|privateKey/i);
      });
    }

    it("prod mirrors the seed: 4 runners of 4 cores / 8192 MB / 50 GB, vmIds from 200", () => {
      const c = parseConfig(projectKeys(readStackFile("prod").values, NAMESPACE));
      expect(c.runners).to.include({ count: 4, cores: 4, memoryMb: 8192, diskGb: 50 });
      expect(c.runners.instances[0]!.vmId).to.equal(200);
      expect(c.egress.domains).to.include.members(["crates.io", "static.rust-lang.org"]);
    });

    it("both stacks allow GitHub's domains and what the cco build downloads from", () => {
      for (const stack of ["dev", "prod"]) {
        const c = parseConfig(projectKeys(readStackFile(stack).values, NAMESPACE));
        expect(c.egress.domains, stack).to.include.members([
          ...GITHUB_RUNNER_DOMAINS,
          "crates.io",
          "static.rust-lang.org",
          "static.rustup.rs",
        ]);
      }
    });

    it("dev is smaller than prod", () => {
      const dev = parseConfig(projectKeys(readStackFile("dev").values, NAMESPACE)).runners;
      const prod = parseConfig(projectKeys(readStackFile("prod").values, NAMESPACE)).runners;
      expect(dev.cores * dev.memoryMb * dev.diskGb).to.be.below(prod.cores * prod.memoryMb * prod.diskGb);
    });
  });
  it("derives the runner's GitHub and its REST API from one setting (github.com, GHE.com, GHE Server)", () => {
    expect(parseConfig(base()).runners).to.include({
      githubUrl: "https://github.com",
      githubApiUrl: "https://api.github.com",
    });
    expect(githubApiUrlOf("https://octo.ghe.com")).to.equal("https://api.octo.ghe.com");
    expect(parseConfig(base({ githubServerUrl: "https://ghe.example.com:8443" })).runners).to.include({
      githubUrl: "https://ghe.example.com:8443",
      githubApiUrl: "https://ghe.example.com:8443/api/v3",
    });
  });
});
