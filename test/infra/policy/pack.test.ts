/**
 * The policy pack as `pulumi preview --policy-pack infra/policy` runs it,
 * without the CLI: started in infra/policy the way the CLI's
 * pulumi-analyzer-policy plugin starts it (ts-node, type-checking, every
 * dependency from the root node_modules), then asked over its gRPC Analyzer
 * service with the offline plan's resources, secrets marked as the engine
 * marks them.
 */
import { expect } from "chai";
import { TYPES } from "../../../infra/policy/policies";
import { planFor, startPack, type PackResource, type RunningPack } from "../../helpers/policy";

describe("policy pack: loaded as the CLI loads it, over gRPC", function () {
  this.timeout(120_000);
  let pack: RunningPack;

  before(async () => {
    // The CLI hands the pack the stack's name; the secrets policy reads its file.
    pack = await startPack({ PULUMI_STACK: "prod" });
  });
  after(() => pack?.stop());

  it("starts from infra/policy and serves every policy as mandatory", async () => {
    const info = await pack.info();
    expect(info.name).to.equal("cco-infra");
    expect(info.policies).to.have.length(8);
    for (const p of info.policies) expect(p.enforcementLevel, p.name).to.equal("mandatory");
  });

  it("accepts every resource of stack prod's plan, and the stack as a whole", async () => {
    const resources = await planFor("prod");
    for (const r of resources) expect(await pack.analyze(r), r.urn).to.deep.equal([]);
    expect(await pack.analyzeStack(resources)).to.deep.equal([]);
  });

  it("rejects a privileged runner container before it is created", async () => {
    const resources = await planFor("prod");
    const container = resources.find((r) => r.type === TYPES.container && r.name === "runner-01")!;
    const bad: PackResource = { ...container, props: { ...container.props, unprivileged: false } };
    const vs = await pack.analyze(bad);
    expect(vs).to.have.length(1);
    expect(vs[0]).to.include({ policy: "containers-unprivileged", enforcementLevel: "mandatory" });
    // On the wire a violation reads: the policy's description, a newline, the message.
    expect(vs[0]!.message).to.match(
      /^Every Proxmox container is unprivileged\.\nContainer runner-01 must be unprivileged/,
    );
  });

  it("rejects a stack whose runner lost its firewall", async () => {
    const resources = (await planFor("prod")).filter((r) => r.name !== "runner-03-firewall");
    const vs = await pack.analyzeStack(resources);
    expect(vs.map((v) => [v.policy, v.enforcementLevel])).to.deep.equal([["runner-firewall-and-egress", "mandatory"]]);
    expect(vs[0]!.urn).to.match(
      /cco:runners:Runner\$cco:proxmox:ProvisionedContainer\$proxmoxve:index\/containerLegacy:ContainerLegacy::runner-03$/,
    );
  });
});
