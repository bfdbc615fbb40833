import { expect } from "chai";
import { AssetValue, ArchiveValue, reveal, SecretValue, type PlannedResource } from "../../../infra/plan/recorder";
import { ROOT_LOGIN, runProgram, TEST_SSH_KEY } from "../../helpers/program";

const T = {
  container: "proxmoxve:index/containerLegacy:ContainerLegacy",
  template: "proxmoxve:download/file:File",
  copy: "command:remote:CopyToRemote",
  remote: "command:remote:Command",
  local: "command:local:Command",
};
const runnerContainers = (rs: PlannedResource[]) =>
  rs.filter((r) => r.type === T.container && r.name.startsWith("runner-")).sort((a, b) => a.name.localeCompare(b.name));

function isSecretDeep(v: unknown): boolean {
  return v instanceof SecretValue;
}

describe("runners: the fleet under mocks", function () {
  this.timeout(60_000);

  for (const count of [4, 10]) {
    it(`declares exactly ${count} unprivileged containers with every property`, async () => {
      const { recorder } = await runProgram({
        runnerCount: String(count),
        runnerCores: "6",
        runnerMemoryMb: "12288",
        runnerSwapMb: "512",
        runnerDiskGb: "80",
      });
      const containers = runnerContainers(recorder.resources);
      expect(containers.map((c) => c.name)).to.deep.equal(
        Array.from({ length: count }, (_, i) => `runner-${String(i + 1).padStart(2, "0")}`),
      );
      containers.forEach((c, i) => {
        const inputs = reveal(c.inputs) as {
          cpu: object;
          memory: object;
          disk: object;
          features: object;
          tags: string[];
          description: string;
          initialization: { ipConfigs: { ipv4: object }[]; userAccount: { keys: string[] } };
          networkInterfaces: object[];
          operatingSystem: { templateFileId: string };
        };
        expect(c.inputs).to.include({
          unprivileged: true,
          startOnBoot: true,
          started: true,
          vmId: 200 + i,
          nodeName: "pve",
        });
        expect(inputs.cpu).to.include({ cores: 6 });
        expect(inputs.memory).to.deep.equal({ dedicated: 12288, swap: 512 });
        expect(inputs.disk).to.include({ size: 80, datastoreId: "local-lvm" });
        expect(inputs.features).to.deep.equal({ nesting: false, keyctl: false });
        expect(inputs.tags.every((t: string) => t === t.toLowerCase())).to.equal(true);
        expect(inputs.description).to.include(c.name);
        expect(inputs.initialization.ipConfigs[0]!.ipv4).to.deep.equal({
          address: `192.168.1.${200 + i}/24`,
          gateway: "192.168.1.1",
        });
        // The public half of the configured private key, derived by the program.
        expect(inputs.initialization.userAccount.keys).to.deep.equal([`${TEST_SSH_KEY} cco-provisioning`]);
        expect(inputs.networkInterfaces[0]).to.include({ firewall: true, bridge: "vmbr0" });
        expect(inputs.operatingSystem.templateFileId).to.equal("lxc-template-pve-id");
        expect(c.parentType).to.equal("cco:proxmox:ProvisionedContainer");
      });
    });
  }

  it("turns on nesting and keyctl only for Docker in jobs", async () => {
    // Proxmox lets only root@pam itself turn keyctl on (config.ts checkDockerLogin).
    const { recorder } = await runProgram({ dockerInJobs: "true" }, "test", ROOT_LOGIN);
    for (const c of runnerContainers(recorder.resources)) {
      expect(c.inputs.features).to.deep.equal({ nesting: true, keyctl: true });
      // The declaration the policy pack asks for before it allows those features.
      expect(c.inputs.tags).to.include("docker-in-jobs");
    }
    const { recorder: plain } = await runProgram();
    for (const c of runnerContainers(plain.resources)) expect(c.inputs.tags).to.not.include("docker-in-jobs");
  });

  it("spreads runners over three nodes, with the template on each", async () => {
    const { recorder } = await runProgram({ runnerCount: "6", proxmoxNodes: '["pve1","pve2","pve3"]' });
    expect(runnerContainers(recorder.resources).map((c) => c.inputs.nodeName)).to.deep.equal([
      "pve1",
      "pve2",
      "pve3",
      "pve1",
      "pve2",
      "pve3",
    ]);
    const templates = recorder.ofType(T.template);
    expect(templates.map((t) => t.inputs.nodeName)).to.deep.equal(["pve1", "pve2", "pve3"]);
    for (const t of templates) expect(t.inputs).to.include({ contentType: "vztmpl", checksumAlgorithm: "sha512" });
  });

  it("names the template file per stack and checksum, so stacks on one host never share (or delete) it", async () => {
    const names: unknown[] = [];
    // One program at a time: the mock runtime is global.
    for (const stack of ["dev", "prod"])
      names.push((await runProgram({}, stack)).recorder.ofType(T.template)[0]!.inputs.fileName);
    expect(names).to.deep.equal([
      "cco-dev-39f6d06e082d6a41-debian-12-standard_12.7-1_amd64.tar.zst",
      "cco-prod-39f6d06e082d6a41-debian-12-standard_12.7-1_amd64.tar.zst",
    ]);
    // A new checksum alone is a new file: the replacement creates it beside the old one, then deletes the old.
    const other = (await runProgram({ lxcTemplateChecksum: "ab".repeat(64) }, "prod")).recorder.ofType(T.template)[0]!
      .inputs.fileName;
    expect(other).to.equal("cco-prod-abababababababab-debian-12-standard_12.7-1_amd64.tar.zst");
  });

  it("downloads the template once when its storage is shared by every node", async () => {
    const { recorder } = await runProgram({
      runnerCount: "6",
      proxmoxNodes: '["pve1","pve2","pve3"]',
      proxmoxTemplateShared: "true",
    });
    const templates = recorder.ofType(T.template);
    expect(templates.map((t) => [t.name, t.inputs.nodeName])).to.deep.equal([["lxc-template-pve1", "pve1"]]);
    // Every container, on any node, is created from that one file.
    const ids = [...runnerContainers(recorder.resources), recorder.byName(T.container, "cco-stats")].map(
      (c) => (reveal(c.inputs.operatingSystem) as { templateFileId: string }).templateFileId,
    );
    expect(new Set(ids)).to.deep.equal(new Set(["lxc-template-pve1-id"]));
    expect(runnerContainers(recorder.resources).map((c) => c.inputs.nodeName)).to.include.members(["pve2", "pve3"]);
  });

  it("keeps the first four runners exactly as they were when going from 7 to 4", async () => {
    const seven = await runProgram({ runnerCount: "7" });
    const four = await runProgram({ runnerCount: "4" });
    const key = (r: PlannedResource) => `${r.type} ${r.name}`;
    const four_ = new Map(four.recorder.resources.map((r) => [key(r), JSON.stringify(r.inputs)]));
    const sevenNames = seven.recorder.resources.map(key);
    // Everything of runner-05..07 goes; everything else is declared with identical inputs,
    // but the node's controller, whose config lists the runners it drives.
    const gone = sevenNames.filter((k) => !four_.has(k));
    expect(gone.length).to.be.greaterThan(0);
    expect(gone.every((k) => /runner-0[5-7]/.test(k))).to.equal(true, gone.join("\n"));
    const changed = seven.recorder.resources
      .filter((r) => four_.has(key(r)) && JSON.stringify(r.inputs) !== four_.get(key(r)))
      .map(key);
    expect(changed.sort()).to.deep.equal([
      "command:remote:Command cco-controller-pve-install",
      "command:remote:CopyToRemote cco-controller-pve-files",
    ]);
  });

  it("declares nothing that changes from one run to the next (a second pulumi up shows no changes)", async () => {
    const a = await runProgram();
    const b = await runProgram();
    expect(a.recorder.resources.map((r) => JSON.stringify([r.type, r.name, r.inputs]))).to.deep.equal(
      b.recorder.resources.map((r) => JSON.stringify([r.type, r.name, r.inputs])),
    );
    // No registration token is asked of GitHub at plan time: none can churn.
    expect(a.recorder.invokes.filter((i) => i.token.includes("RegistrationToken"))).to.deep.equal([]);
  });

  it("persistent: mints a registration token per container, fresh whenever the container is replaced", async () => {
    const { recorder } = await runProgram({ runnerMode: "persistent" });
    const containers = runnerContainers(recorder.resources);
    const mints = recorder
      .ofType(T.local)
      .filter((r) => r.name.endsWith("-registration-token"))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(mints).to.have.length(4);
    mints.forEach((m, i) => {
      expect(m.inputs.create).to.equal("node --import tsx infra/runners/github-runner.ts mint");
      expect(m.options.replaceWith).to.deep.equal([containers[i]!.urn]);
      expect(m.options.additionalSecretOutputs).to.deep.equal(["stdout"]);
      expect(isSecretDeep(m.inputs.environment)).to.equal(true);
    });
  });

  it("persistent: removes each runner from GitHub before its container (a delete step that depends on it)", async () => {
    const { recorder } = await runProgram({ runnerCount: "5", runnerMode: "persistent" });
    const containers = runnerContainers(recorder.resources);
    const deregs = recorder
      .ofType(T.local)
      .filter((r) => r.name.endsWith("-deregistration"))
      .sort((a, b) => a.name.localeCompare(b.name));
    expect(deregs.map((d) => d.name)).to.deep.equal(containers.map((c) => `${c.name}-deregistration`));
    deregs.forEach((d, i) => {
      expect(d.inputs.delete).to.equal("node --import tsx infra/runners/github-runner.ts deregister");
      expect(d.inputs.create).to.equal(undefined);
      expect(d.options.dependencies).to.include(containers[i]!.urn);
      // A replaced container takes its runner out of GitHub first, and frees its vmId before the new one.
      expect(d.options.replaceWith).to.deep.equal([containers[i]!.urn]);
      // An input from the container, so a delete-first replacement deletes (deregisters) this first.
      expect(d.inputs.triggers).to.deep.equal([`${containers[i]!.name}-id`]);
      expect(containers[i]!.options.deleteBeforeReplace).to.equal(true);
      const env = reveal(d.inputs.environment) as Record<string, string>;
      expect(env).to.include({
        RUNNER_NAME: containers[i]!.name,
        GITHUB_REPOSITORY: "brentley/cco",
        GITHUB_TOKEN: "ghp_test-token",
      });
    });
  });

  it("registers with the GitHub of githubServerUrl and calls its API (issue 13, finding 9)", async () => {
    const plain = await runProgram({ runnerCount: "4", runnerMode: "persistent" });
    const ghe = await runProgram({
      runnerCount: "4",
      githubServerUrl: "https://ghe.example.com",
      runnerMode: "persistent",
    });
    const envOf = (rec: typeof plain.recorder) =>
      reveal(rec.byName(T.local, "runner-01-deregistration").inputs.environment) as Record<string, string>;
    expect(envOf(plain.recorder)).to.not.have.property("GITHUB_API_URL");
    expect(envOf(ghe.recorder)).to.include({ GITHUB_API_URL: "https://ghe.example.com/api/v3" });
    expect(reveal(ghe.recorder.byName(T.local, "runner-01-registration-token").inputs.environment)).to.include({
      GITHUB_API_URL: "https://ghe.example.com/api/v3",
    });
    const runnerEnv = (rec: typeof plain.recorder) =>
      ((rec.byName(T.copy, "runner-01-files").inputs.source as ArchiveValue).assets["runner.env"] as AssetValue).text!;
    expect(runnerEnv(plain.recorder)).to.match(/^GITHUB_URL=https:\/\/github\.com\/brentley\/cco$/m);
    expect(runnerEnv(ghe.recorder)).to.match(/^GITHUB_URL=https:\/\/ghe\.example\.com\/brentley\/cco$/m);
  });

  it("persistent: stops each runner's listener on its container, once its job is done, before it leaves GitHub (issue 13, finding 7)", async () => {
    const { recorder } = await runProgram({ runnerCount: "4", runnerMode: "persistent" });
    for (const c of runnerContainers(recorder.resources)) {
      const drain = recorder.byName(T.remote, `${c.name}-drain`);
      const dereg = recorder.byName(T.local, `${c.name}-deregistration`);
      expect(drain.inputs.delete).to.equal("RUNNER_DRAIN_S=600 /opt/cco/drain.sh");
      expect(drain.inputs.create).to.equal("/opt/cco/drain.sh resume");
      // Depending on the deregistration, it is deleted first: drained and stopped, then removed from GitHub.
      expect(drain.options.dependencies).to.include(dereg.urn);
      expect(drain.options.replaceWith).to.deep.equal([c.urn]);
      expect(drain.inputs.triggers).to.deep.equal([`${c.name}-id`]);
    }
  });

  it("gives every container its Proxmox firewall, up before it is provisioned", async () => {
    const { recorder } = await runProgram({ runnerCount: "6" });
    const guarded = [
      ...runnerContainers(recorder.resources),
      recorder.byName(T.container, "cco-stats"),
      recorder.byName(T.container, "cco-gateway"),
    ];
    for (const c of guarded) {
      const options = recorder.byName("proxmoxve:firewall/optionsLegacy:OptionsLegacy", `${c.name}-firewall`);
      const rules = recorder.byName("proxmoxve:firewall/rulesLegacy:RulesLegacy", `${c.name}-firewall-rules`);
      expect(options.inputs).to.include({
        enabled: true,
        inputPolicy: "DROP",
        outputPolicy: "DROP",
        containerId: c.inputs.vmId,
        nodeName: c.inputs.nodeName,
      });
      expect(rules.inputs).to.include({ containerId: c.inputs.vmId });
      expect(options.parent).to.equal(c.name);
      expect(options.options.dependencies).to.include(rules.urn);
      // Proxmox deletes a container's firewall with it: a new container gets it
      // again, by replaceOnChanges on containerId (test/infra/proxmox/container.test.ts), not replaceWith.
      expect(options.options.replaceWith).to.deep.equal([]);
      expect(rules.options.replaceWith).to.deep.equal([]);
      expect(options.options.deleteBeforeReplace && rules.options.deleteBeforeReplace).to.equal(true);
      expect(c.options.deleteBeforeReplace).to.equal(true);
      const provision = recorder.byName(T.remote, `${c.name}-provision`);
      expect(provision.options.dependencies).to.include(options.urn);
      expect(reveal(c.inputs.networkInterfaces)).to.deep.equal([{ name: "eth0", bridge: "vmbr0", firewall: true }]);
    }
    expect(recorder.ofType("proxmoxve:firewall/optionsLegacy:OptionsLegacy")).to.have.length(8);
  });

  it("persistent: provisions over SSH with secrets only on stdin and in the connection", async () => {
    const { recorder } = await runProgram({ runnerMode: "persistent" });
    const provisions = recorder.ofType(T.remote).filter((r) => /^runner-\d\d-provision$/.test(r.name));
    expect(provisions).to.have.length(4);
    for (const p of provisions) {
      expect(p.inputs.connection).to.be.instanceOf(SecretValue);
      expect(p.inputs.stdin).to.be.instanceOf(SecretValue);
      expect(String(reveal(p.inputs.stdin))).to.match(/^REGISTRATION_TOKEN=.*\nINGEST_TOKEN=.+\n$/);
      expect(p.inputs.create).to.match(/^bash \/root\/cco-provision-[0-9a-f]{16}\/provision\.sh && /);
      expect(p.options.replaceWith).to.have.length(1);
    }
    for (const copy of recorder.ofType(T.copy).filter((r) => r.name.startsWith("runner-"))) {
      const source = copy.inputs.source as ArchiveValue;
      expect(source).to.be.instanceOf(ArchiveValue);
      expect(Object.keys(source.assets)).to.include.members([
        "provision.sh",
        "egress.sh",
        "job-hook.sh",
        "forwarder.sh",
        "runner.env",
        "units/actions-runner.service",
      ]);
      const env = (source.assets["runner.env"] as AssetValue).text!;
      expect(env).to.match(/^RUNNER_NAME=runner-0\d$/m);
      expect(env).to.match(/^RUNNER_LABELS=self-hosted,runner-0\d$/m);
      expect(env).to.include("STATS_URL=http://192.168.1.210:8080");
      expect(env).to.not.match(/TOKEN/);
    }
  });

  it("treats every token-like input as a secret", async () => {
    const { recorder } = await runProgram();
    const walk = (where: string, v: unknown) => {
      if (v instanceof SecretValue) return;
      if (v && typeof v === "object" && !(v instanceof AssetValue) && !(v instanceof ArchiveValue)) {
        for (const [k, x] of Object.entries(v)) {
          if (/token|password|privatekey|secret/i.test(k)) {
            expect(x, `${where}.${k}`).to.be.instanceOf(SecretValue);
          } else walk(`${where}.${k}`, x);
        }
      } else if (typeof v === "string") {
        expect(v, where).to.not.match(/ghp_test-token|PRIVATE KEY-----/);
      }
    };
    for (const r of recorder.resources) walk(`${r.type} ${r.name}`, r.inputs);
    // Connections (privateKey) and environments (GITHUB_TOKEN) are secret as a whole; strings never hold the values.
    expect(recorder.resources.filter((r) => r.inputs.connection instanceof SecretValue).length).to.be.greaterThan(8);
  });

  it("deploys the stats service: its container, files, token, probe and URL", async () => {
    const { recorder, outputs } = await runProgram();
    const c = recorder.byName(T.container, "cco-stats");
    expect(c.inputs).to.include({ unprivileged: true, vmId: 210, startOnBoot: true });
    const copy = recorder.byName(T.copy, "cco-stats-files");
    expect(Object.keys((copy.inputs.source as ArchiveValue).assets).sort()).to.deep.equal([
      "cco-stats.service",
      "lib.sh",
      "provision-stats.sh",
      "sshd-cco.conf",
      "stats-credential.sh",
      "stats-service.js",
      "stats.env",
    ]);
    const env = ((copy.inputs.source as ArchiveValue).assets["stats.env"] as AssetValue).text!;
    expect(env)
      .to.include("STATS_HOST=192.168.1.210")
      .and.include("NODE_VERSION=22.21.1")
      .and.include("NODE_FLAGS=--max-old-space-size=128");
    expect(recorder.byName(T.remote, "cco-stats-healthz").inputs.create).to.include("/healthz");
    expect(recorder.byName("random:index/randomPassword:RandomPassword", "cco-stats-ingest-token").inputs).to.include({
      length: 48,
    });
    expect(env).to.include("STATS_CREDENTIALS_FILE=/etc/cco-stats/credentials.d");
    expect(outputs.statsUrl).to.equal("http://192.168.1.210:8080");
  });

  it("gives each runner its own ingest token, registered with the stats service and removed with the runner", async () => {
    const { recorder } = await runProgram();
    const tokens = recorder
      .ofType("random:index/randomPassword:RandomPassword")
      .map((r) => r.name)
      .filter((n) => /^runner-\d+-ingest-token$/.test(n));
    expect(tokens.sort()).to.deep.equal([
      "runner-01-ingest-token",
      "runner-02-ingest-token",
      "runner-03-ingest-token",
      "runner-04-ingest-token",
    ]);
    for (const n of ["01", "02", "03", "04"]) {
      const reg = recorder.byName(T.remote, `runner-${n}-ingest-registration`);
      expect(reg.inputs).to.include({
        create: `/usr/local/sbin/cco-stats-credential add runner-${n}`,
        delete: `/usr/local/sbin/cco-stats-credential remove runner-${n}`,
      });
      // The hash of the token (not secret: it cannot be turned back into the token), never the token.
      expect(reveal(reg.inputs.stdin)).to.match(/^sha256:[0-9a-f]{64}\n$/);
    }
    // The stats service's own files do not name the runners: scaling leaves it alone.
    const seven = await runProgram({ runnerCount: "7" });
    const statsFiles = (r: typeof recorder) => JSON.stringify(r.byName(T.copy, "cco-stats-files").inputs);
    expect(statsFiles(seven.recorder)).to.equal(statsFiles(recorder));
  });
});
