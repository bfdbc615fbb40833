/**
 * The replacement rules of ProvisionedContainer (infra/proxmox/container.ts),
 * as the program passes them to the SDK. What the engine then does with them
 * is cited, not run here (the real engine cannot run on this machine):
 * pulumi/pulumi v3.248.0 pkg/resource/deploy/step_generator.go
 * calculateDependentReplacements deletes ahead of a delete-first replacement
 * the dependents whose inputs from the replaced resource would replace them
 * (replaceOnChanges applied), in reverse dependency order.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CONTAINER_DELETE_TIMEOUT_S, REBOOT_REQUIRED_INPUTS } from "../../../infra/proxmox/container";
import { AssetValue, ArchiveValue, reveal } from "../../../infra/plan/recorder";
import { PROJECT_ROOT } from "../../../infra/stackfile";
import { declare, find, testConfig } from "../../helpers/declared";

const T = {
  container: "proxmoxve:index/containerLegacy:ContainerLegacy",
  rules: "proxmoxve:firewall/rulesLegacy:RulesLegacy",
  options: "proxmoxve:firewall/optionsLegacy:OptionsLegacy",
  remote: "command:remote:Command",
  copy: "command:remote:CopyToRemote",
  local: "command:local:Command",
};

describe("proxmox: ProvisionedContainer's replacement rules", function () {
  this.timeout(60_000);

  it("replaces the firewall by replaceOnChanges on its container's id and node, delete-first, never by replaceWith", async () => {
    const { declared, recorder } = await declare(testConfig());
    for (const name of ["runner-01", "runner-04", "cco-stats"]) {
      const container = recorder.byName(T.container, name);
      for (const [type, n] of [
        [T.rules, `${name}-firewall-rules`],
        [T.options, `${name}-firewall`],
      ] as const) {
        const d = find(declared, type, n);
        expect(d.opts.replaceOnChanges, n).to.deep.equal(["containerId", "nodeName"]);
        expect(d.opts.deleteBeforeReplace, n).to.equal(true);
        expect(d.opts.replaceWith, n).to.equal(undefined);
        // containerId is the container's output: the input through which a replacement of the container reaches it.
        const r = recorder.byName(type, n);
        expect(r.inputs.containerId).to.equal(container.inputs.vmId);
        expect(r.options.dependencies).to.include(container.urn);
      }
    }
  });

  it("persistent: orders a runner's delete: deregistration, provision, firewall options, rules, container", async () => {
    const { recorder } = await declare(testConfig({ "cco-infra:runnerMode": "persistent" }));
    const urn = (type: string, name: string) => recorder.byName(type, name).urn;
    const dereg = recorder.byName(T.local, "runner-02-deregistration");
    const provision = recorder.byName(T.remote, "runner-02-provision");
    const options = recorder.byName(T.options, "runner-02-firewall");
    // Each depends on the next (the engine deletes in reverse dependency order).
    expect(dereg.options.dependencies).to.include(provision.urn);
    expect(provision.options.dependencies).to.include(options.urn);
    expect(options.options.dependencies).to.include(urn(T.rules, "runner-02-firewall-rules"));
    // The deregistration's container id in triggers (replaceOnChanges in pulumi-command v1.2.1's schema) deletes it ahead.
    expect(dereg.inputs.triggers).to.deep.equal(["runner-02-id"]);
  });

  it("replaces a runner where the provider would reboot it in place; the stats service is rebooted", async () => {
    const { declared } = await declare(testConfig());
    for (const n of ["runner-01", "runner-02", "runner-03", "runner-04"]) {
      const d = find(declared, T.container, n);
      expect(d.opts.replaceOnChanges, n).to.deep.equal(REBOOT_REQUIRED_INPUTS);
      expect(d.opts.deleteBeforeReplace).to.equal(true);
    }
    expect(find(declared, T.container, "cco-stats").opts.replaceOnChanges).to.equal(undefined);
  });

  it("names in replaceOnChanges only inputs the provider's container has", () => {
    // The SDK's own declarations of ContainerLegacyArgs and its nested input types (@muhlba91/pulumi-proxmoxve 8.6.0).
    const sdk = join(PROJECT_ROOT, "node_modules", "@muhlba91", "pulumi-proxmoxve");
    const args = readFileSync(join(sdk, "containerLegacy.d.ts"), "utf8");
    const body = (text: string, iface: string) =>
      text.slice(text.indexOf(`export interface ${iface} {`)).split("\n}\n")[0]!;
    const inputs = readFileSync(join(sdk, "types", "input.d.ts"), "utf8");
    for (const path of REBOOT_REQUIRED_INPUTS) {
      const [top, nested] = path.split(".");
      expect(body(args, "ContainerLegacyArgs"), path).to.match(new RegExp(`^    ${top}\\?:`, "m"));
      if (nested)
        expect(body(inputs, "ContainerLegacyInitialization"), path).to.match(new RegExp(`^    ${nested}\\?:`, "m"));
    }
  });

  it("gives every container's delete room to shut it down", async () => {
    const { recorder } = await declare(testConfig());
    const containers = recorder.ofType(T.container);
    expect(containers).to.have.length(6); // the stats service, the egress gateway, 4 runners
    for (const c of containers) expect(c.inputs.timeoutDelete, c.name).to.equal(CONTAINER_DELETE_TIMEOUT_S);
    expect(CONTAINER_DELETE_TIMEOUT_S).to.be.greaterThan(60);
  });

  it("keeps the stats data on statsDataVolume when one is given, mounted where the service writes", async () => {
    const without = await declare(testConfig());
    expect(without.recorder.byName(T.container, "cco-stats").inputs.mountPoints).to.equal(undefined);
    const { recorder } = await declare(testConfig({ "cco-infra:statsDataVolume": "local-lvm:vm-9210-disk-0" }));
    const stats = recorder.byName(T.container, "cco-stats");
    expect(reveal(stats.inputs.mountPoints)).to.deep.equal([
      { volume: "local-lvm:vm-9210-disk-0", path: "/var/lib/cco-stats" },
    ]);
    const env = (
      (recorder.byName(T.copy, "cco-stats-files").inputs.source as ArchiveValue).assets["stats.env"] as AssetValue
    ).text!;
    expect(env).to.match(/^STATS_DATA_DIR=\/var\/lib\/cco-stats$/m);
    // Runners never get it.
    for (const c of recorder.ofType(T.container).filter((x) => x.name !== "cco-stats"))
      expect(c.inputs.mountPoints).to.equal(undefined);
  });
});
