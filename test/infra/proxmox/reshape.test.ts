/**
 * The component reshape (ProvisionedContainer, LxcTemplates) moved resources
 * under new parents. A resource's URN holds its parent's type chain, so a
 * stack deployed before would see every moved resource as deleted and a new
 * one created, unless the moved resource declares an alias to its old URN.
 *
 * urns-before-reshape.json holds the URN of every resource the program
 * declared for prod and dev just before the reshape (commit c165774). Each
 * must still be addressed: as a resource's URN or one of its aliases.
 *
 * URNs are computed as the engine does: `urn:pulumi:<stack>::<project>::`,
 * the types of every ancestor but the stack joined by `$`, then `::<name>`
 * (pulumi/pulumi v3.248.0, sdk/nodejs/resource.ts createUrn and
 * collapseAliasToUrn, as installed in node_modules/@pulumi/pulumi/resource.js:
 * an alias with `parent: undefined` (rootStackResource) names no parent).
 * The mock monitor's URNs keep only the parent's own type, so they are not
 * used here.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { declare, stackConfig, type Declared } from "../../helpers/declared";

const BEFORE = JSON.parse(readFileSync(join(__dirname, "urns-before-reshape.json"), "utf8")) as Record<
  string,
  string[]
>;

async function declared(stack: string): Promise<Declared[]> {
  // A stack deployed in the old shape ran persistent runners (runnerMode did not exist yet).
  return (await declare(stackConfig(stack, { "cco-infra:runnerMode": "persistent" }), stack)).declared;
}

/** The engine's URN of each declared resource, and of each of its aliases. */
function addresses(stack: string, all: Declared[]): { urn: string; aliases: string[]; d: Declared }[] {
  const byResource = new Map(all.map((d) => [d.resource, d]));
  const chain = (parent: pulumi.Resource | undefined): string => {
    const p = parent && byResource.get(parent);
    return p ? `${chain(p.parent)}${p.type}$` : "";
  };
  const urn = (parent: pulumi.Resource | undefined, type: string, name: string) =>
    `urn:pulumi:${stack}::cco-infra::${chain(parent)}${type}::${name}`;
  return all.map((d) => ({
    d,
    urn: urn(d.parent, d.type, d.name),
    aliases: (d.opts.aliases ?? []).map((a) => {
      if (typeof a === "string" || !("parent" in a)) throw new Error(`${d.name}: only { parent } aliases are expected`);
      if (a.parent !== undefined && !pulumi.Resource.isInstance(a.parent))
        throw new Error(`${d.name}: alias parent is not a resource`);
      return urn(a.parent, d.type, d.name);
    }),
  }));
}

describe("proxmox: the reshape into components replaces nothing in a deployed stack", function () {
  this.timeout(60_000);

  for (const stack of ["prod", "dev"]) {
    it(`${stack}: every resource of the old shape is addressed by a URN or an alias, once`, async () => {
      const now = addresses(stack, await declared(stack));
      const claims = new Map<string, string[]>();
      for (const a of now)
        for (const u of [a.urn, ...a.aliases]) claims.set(u, [...(claims.get(u) ?? []), `${a.d.type} ${a.d.name}`]);
      const lost = BEFORE[stack]!.filter((u) => !claims.has(u));
      expect(lost, "old URNs no resource answers to").to.deep.equal([]);
      for (const u of BEFORE[stack]!) expect(claims.get(u), u).to.have.length(1);
      // The reshape did move resources: without their aliases the check above would fail.
      const moved = now.filter(
        (a) => !BEFORE[stack]!.includes(a.urn) && a.aliases.some((x) => BEFORE[stack]!.includes(x)),
      );
      expect(moved.length).to.equal(1 + 5 * 5);
    });
  }

  it("declares the aliases: the moved children of each ProvisionedContainer, and the templates", async () => {
    const now = addresses("prod", await declared("prod"));
    const of = (type: string) =>
      now.filter((a) => a.d.parent !== undefined && now.find((p) => p.d.resource === a.d.parent)?.d.type === type);
    const boxed = of("cco:proxmox:ProvisionedContainer");
    expect(boxed.map((a) => a.d.name).sort()).to.include.members([
      "runner-01",
      "runner-01-firewall-rules",
      "runner-01-firewall",
      "runner-01-files",
      "runner-01-provision",
      "cco-stats",
    ]);
    for (const a of boxed) {
      // Its old parent is the ProvisionedContainer's own parent (the Runner or the StatsService).
      const box = now.find((p) => p.d.resource === a.d.parent)!;
      expect(a.d.opts.aliases, a.d.name).to.deep.equal([{ parent: box.d.parent }]);
      expect(a.aliases[0], a.d.name).to.equal(a.urn.replace("$cco:proxmox:ProvisionedContainer$", "$"));
    }
    const templates = of("cco:proxmox:LxcTemplates");
    expect(templates.map((a) => a.d.name)).to.deep.equal(["lxc-template-pve"]);
    expect(templates[0]!.aliases).to.deep.equal([
      "urn:pulumi:prod::cco-infra::proxmoxve:download/file:File::lxc-template-pve",
    ]);
  });
});
