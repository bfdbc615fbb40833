/**
 * Ephemeral mode's deployment under Pulumi's mocks: the controller on each
 * Proxmox node, the reset and the clean snapshot of each runner container,
 * the removal of a slot's lives, and where every credential goes.
 */
import { expect } from "chai";
import { AssetValue, ArchiveValue, reveal, type PlannedResource } from "../../../infra/plan/recorder";
import { TEST_SECRETS, runProgram } from "../../helpers/program";

const T = {
  container: "proxmoxve:index/containerLegacy:ContainerLegacy",
  copy: "command:remote:CopyToRemote",
  remote: "command:remote:Command",
  local: "command:local:Command",
  credential: "cco:stats:RunnerCredential",
  controller: "cco:controller:NodeController",
};
const CONTROLLER_TOKEN = TEST_SECRETS["cco-infra:controllerGithubToken"]!;
const OPERATOR_TOKEN = TEST_SECRETS["github:token"]!;

/** Every string in a resource's inputs, secrets revealed, assets' text included. */
function strings(v: unknown): string[] {
  const x = reveal(v);
  if (typeof x === "string") return [x];
  if (x instanceof AssetValue) return x.text === undefined ? [] : [x.text];
  if (x instanceof ArchiveValue) return Object.values(x.assets).flatMap(strings);
  if (Array.isArray(x)) return x.flatMap(strings);
  if (x && typeof x === "object") return Object.values(x).flatMap(strings);
  return [];
}
const holds = (r: PlannedResource, secret: string) => strings(r.inputs).some((s) => s.includes(secret));
const hostOf = (r: PlannedResource) => (reveal(r.inputs.connection) as { host?: string } | undefined)?.host;
const controllerJson = (files: PlannedResource) =>
  JSON.parse(((files.inputs.source as ArchiveValue).assets["controller.json"] as AssetValue).text!) as Record<
    string,
    unknown
  >;

describe("controller: ephemeral mode's deployment under mocks", function () {
  this.timeout(60_000);

  it("is the default: no registration token is minted, and no runner container receives one, nor any GitHub token", async () => {
    const { recorder, config } = await runProgram();
    expect(config.runners.mode).to.equal("ephemeral");
    expect(recorder.ofType(T.local).filter((r) => r.name.endsWith("-registration-token"))).to.deep.equal([]);
    expect(recorder.resources.filter((r) => /-(deregistration|drain)$/.test(r.name))).to.deep.equal([]);
    const runnerIps = config.runners.instances.map((i) => i.ip);
    // What reaches a runner container: the remote steps and copies whose connection is its address.
    const intoRunners = recorder.resources.filter((r) => runnerIps.includes(hostOf(r) ?? ""));
    expect(intoRunners.map((r) => r.name).sort()).to.deep.equal(
      ["01", "02", "03", "04"].flatMap((n) => [`runner-${n}-files`, `runner-${n}-provision`]).sort(),
    );
    for (const r of intoRunners) {
      // Every value it receives (scripts, parameters, stdin, connection): no GitHub token.
      const text = strings(r.inputs).join("\n");
      expect(text, r.name).to.not.include(CONTROLLER_TOKEN);
      expect(text, r.name).to.not.include(OPERATOR_TOKEN);
    }
    for (const p of intoRunners.filter((r) => r.name.endsWith("-provision"))) {
      // Only the runner's own stats credential, on stdin: no REGISTRATION_TOKEN line (the one secret provision.sh registers with).
      expect(String(reveal(p.inputs.stdin))).to.match(/^INGEST_TOKEN=[^\n]+\n$/);
    }
    for (const c of recorder.ofType(T.copy).filter((r) => /^runner-\d\d-files$/.test(r.name))) {
      const source = c.inputs.source as ArchiveValue;
      expect((source.assets["runner.env"] as AssetValue).text).to.match(/^RUNNER_MODE=ephemeral$/m);
      expect(Object.keys(source.assets)).to.include.members([
        "ephemeral/install.sh",
        "ephemeral/jit-handoff.sh",
        "ephemeral/cco-jit.path",
      ]);
    }
  });

  it("the controller's GitHub token goes to its node only, on stdin; the controller posts with its own stats credential", async () => {
    const { recorder } = await runProgram();
    expect(recorder.resources.filter((r) => holds(r, CONTROLLER_TOKEN)).map((r) => r.name)).to.deep.equal([
      "cco-controller-pve-install",
    ]);
    const install = recorder.byName(T.remote, "cco-controller-pve-install");
    expect(hostOf(install)).to.equal("192.0.2.10");
    const stdin = String(reveal(install.inputs.stdin));
    expect(stdin).to.match(new RegExp(`^GITHUB_TOKEN=${CONTROLLER_TOKEN}\nINGEST_TOKEN=[^\n]+\n$`));
    // Its own credential, registered with the stats service under its own name, not the shared token.
    const own = recorder.byName(T.remote, "cco-controller-pve-ingest-registration");
    expect(own.inputs).to.include({ create: "/usr/local/sbin/cco-stats-credential add cco-controller-pve" });
    // (The mocks' generated value names the resource it came from.)
    expect(stdin).to.include("cco-controller-pve-ingest-token").and.not.include("cco-stats-ingest-token");
    const ownToken = recorder.byName("random:index/randomPassword:RandomPassword", "cco-controller-pve-ingest-token");
    expect(ownToken.parent).to.equal("cco-controller-pve-ingest");
    const files = recorder.byName(T.copy, "cco-controller-pve-files");
    expect(controllerJson(files)).to.deep.include({
      repo: "brentley/cco",
      apiUrl: "https://api.github.com",
      labels: ["self-hosted"],
      snapshot: "cco-clean",
      statsUrl: "http://192.168.1.210:8080",
      statsRunner: "cco-controller-pve",
      runners: [200, 201, 202, 203].map((vmid, i) => ({ vmid, name: `runner-0${i + 1}` })),
    });
    expect(Object.keys((files.inputs.source as ArchiveValue).assets).sort()).to.deep.equal([
      "cco-controller.service",
      "controller.env",
      "controller.js",
      "controller.json",
      "lib.sh",
      "provision-controller.sh",
    ]);
    expect(strings(files.inputs).join("\n")).to.not.include(CONTROLLER_TOKEN);
  });

  it("one controller per node, driving that node's runners, started once their snapshots are taken", async () => {
    const { recorder } = await runProgram({ runnerCount: "6", proxmoxNodes: '["pve1","pve2","pve3"]' });
    const controllers = recorder
      .ofType(T.controller)
      .map((c) => c.name)
      .sort();
    expect(controllers).to.deep.equal(["cco-controller-pve1", "cco-controller-pve2", "cco-controller-pve3"]);
    ["pve1", "pve2", "pve3"].forEach((node, i) => {
      const files = recorder.byName(T.copy, `cco-controller-${node}-files`);
      const runners = (controllerJson(files).runners as Array<{ name: string }>).map((r) => r.name);
      expect(runners).to.deep.equal([`runner-0${i + 1}`, `runner-0${i + 4}`]);
      const install = recorder.byName(T.remote, `cco-controller-${node}-install`);
      expect(hostOf(install)).to.equal(`192.0.2.${10 + i}`);
      const snapshots = runners.map((n) => recorder.byName(T.remote, `${n}-snapshot`).urn);
      expect(install.options.dependencies).to.include.members(snapshots);
      // Updated in place, never replaced: a replacement would run the old one's uninstall after the new install.
      expect(install.inputs.update).to.equal(install.inputs.create);
      expect(install.inputs.delete).to.equal("bash /opt/cco-controller/provision-controller.sh uninstall");
      expect(install.inputs.triggers).to.have.length(1 + runners.length);
    });
  });

  it("each runner container: reset on its node before it changes, snapshotted after it is provisioned", async () => {
    const { recorder } = await runProgram();
    for (const n of ["01", "02", "03", "04"]) {
      const name = `runner-${n}`;
      const vmid = 199 + Number(n);
      const container = recorder.byName(T.container, name);
      const provision = recorder.byName(T.remote, `${name}-provision`);
      const reset = recorder.byName(T.remote, `${name}-reset`);
      const snapshot = recorder.byName(T.remote, `${name}-snapshot`);
      expect(container.options.dependencies).to.include(reset.urn);
      expect(snapshot.options.dependencies).to.include(provision.urn);
      expect(reset.inputs.create).to.equal(`bash -s -- reset ${vmid} cco-clean 600 # cco-node.sh reset`);
      expect(snapshot.inputs.create).to.equal(`bash -s -- take ${vmid} cco-clean # cco-node.sh take`);
      for (const step of [reset, snapshot]) {
        expect(hostOf(step), step.name).to.equal("192.0.2.10");
        expect(String(step.inputs.stdin)).to.match(
          /^#!\/usr\/bin\/env bash\n# The clean snapshot of an ephemeral runner container/,
        );
      }
      // Retaken when the files, the container's config or the container itself change.
      expect(snapshot.inputs.triggers).to.have.length(3);
      expect((snapshot.inputs.triggers as unknown[])[2]).to.equal(`${name}-id`);
      expect((reset.inputs.triggers as unknown[]).slice(0, 2)).to.deep.equal(
        (snapshot.inputs.triggers as unknown[]).slice(0, 2),
      );
    }
  });

  it("the snapshot is retaken when provisioning or the container's config changes, and only then", async () => {
    const base = await runProgram();
    const triggers = (run: typeof base) =>
      JSON.stringify(run.recorder.byName(T.remote, "runner-01-snapshot").inputs.triggers);
    const same = await runProgram({ statsCores: "2" });
    const files = await runProgram({ egressExtraDomains: '["crates.io"]' });
    const cores = await runProgram({ runnerCores: "6" });
    expect(triggers(same), "a change elsewhere").to.equal(triggers(base));
    expect(triggers(files), "provisioning").to.not.equal(triggers(base));
    expect(triggers(cores), "the container's config").to.not.equal(triggers(base));
  });

  it("scale-down: the controller lets the slot go, then its lives leave GitHub before its container goes", async () => {
    const seven = await runProgram({ runnerCount: "7" });
    const four = await runProgram({ runnerCount: "4" });
    const listed = (run: typeof seven) =>
      (controllerJson(run.recorder.byName(T.copy, "cco-controller-pve-files")).runners as unknown[]).length;
    expect([listed(seven), listed(four)]).to.deep.equal([7, 4]);
    for (const n of ["05", "06", "07"]) {
      const retire = seven.recorder.byName(T.local, `runner-${n}-retire`);
      const container = seven.recorder.byName(T.container, `runner-${n}`);
      expect(retire.inputs.delete).to.equal("node --import tsx infra/runners/github-runner.ts retire-lives");
      expect(retire.options.dependencies).to.include(container.urn);
      expect(retire.options.replaceWith).to.deep.equal([container.urn]);
      expect(reveal(retire.inputs.environment)).to.include({
        RUNNER_NAME: `runner-${n}`,
        GITHUB_TOKEN: OPERATOR_TOKEN,
        DEREGISTER_TIMEOUT_S: "600",
      });
      expect(four.recorder.resources.filter((r) => r.name.startsWith(`runner-${n}`))).to.deep.equal([]);
    }
  });

  it("persistent mode keeps today's fleet: no controller, no reset, no snapshot", async () => {
    const { recorder } = await runProgram({ runnerMode: "persistent" });
    expect(recorder.ofType(T.controller)).to.deep.equal([]);
    expect(
      recorder.resources.filter((r) => /-(reset|snapshot|retire)$/.test(r.name) || r.name.startsWith("cco-controller")),
    ).to.deep.equal([]);
    expect(recorder.ofType(T.local).filter((r) => r.name.endsWith("-registration-token"))).to.have.length(4);
    const env = (
      (recorder.byName(T.copy, "runner-01-files").inputs.source as ArchiveValue).assets["runner.env"] as AssetValue
    ).text!;
    expect(env).to.match(/^RUNNER_MODE=persistent$/m);
  });
});
