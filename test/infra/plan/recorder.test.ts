/**
 * Pins what the recorder (infra/plan/recorder.ts) relies on in @pulumi/pulumi,
 * so that an SDK bump that changes it fails here instead of making the plan
 * and the unit tests silently see less: the stack transformation sees every
 * resource with its parent and options, serializeResourceProperties names the
 * inputs' dependencies, isRpcSecret/unwrapRpcSecret open secrets, and
 * waitForRPCs is there. registerResourceTransform is pinned too: the day the
 * mock monitor can call it back, the recorder should move to it.
 */
import { expect } from "chai";
import * as pulumi from "@pulumi/pulumi";
import { SecretValue, settle, startRecording } from "../../../infra/plan/recorder";

/** A provider's resource, as the mocks see it. */
class Thing extends pulumi.CustomResource {
  constructor(type: string, name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions) {
    super(type, name, props, opts);
  }
}

/** Options that name no other resource: the recorder hands them on as given. */
const PLAIN_OPTIONS = {
  deleteBeforeReplace: true,
  replaceOnChanges: ["size"],
  aliases: ["urn:pulumi:s::p::test:index:Thing::old-name", { name: "older-name" }],
  protect: true,
  customTimeouts: { delete: "15m" },
};

class Box extends pulumi.ComponentResource {
  constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
    super("cco:test:Box", name, {}, opts);
    const first = new Thing("test:index:Thing", `${name}-first`, { size: 1 }, { parent: this });
    const other = new Thing("test:index:Other", `${name}-other`, {}, { parent: this });
    new Thing(
      "test:index:Thing",
      `${name}-second`,
      { password: pulumi.secret("hunter2"), firstId: first.id },
      {
        parent: this,
        dependsOn: [other],
        replaceWith: [first],
        ...PLAIN_OPTIONS,
      },
    );
    this.registerOutputs({});
  }
}

describe("plan: the recorder on the SDK's public API", () => {
  it("records type, URN, parent, inputs (secrets as SecretValue) and every resource option", async () => {
    const recorder = await startRecording("p", "s", {});
    new Box("box");
    await settle();
    const urn = (chain: string, name: string) => `urn:pulumi:s::p::${chain}::${name}`;
    const box = urn("cco:test:Box", "box");
    const first = urn("cco:test:Box$test:index:Thing", "box-first");
    const other = urn("cco:test:Box$test:index:Other", "box-other");
    const defaults = {
      dependencies: [],
      dependsOn: [],
      replaceWith: [],
      deleteBeforeReplace: false,
      replaceOnChanges: [],
      additionalSecretOutputs: [],
      ignoreChanges: [],
      aliases: [],
      protect: false,
      retainOnDelete: false,
      customTimeouts: undefined,
    };
    const child = { parent: "box", parentType: "cco:test:Box", parentUrn: box, custom: true };
    expect(recorder.resources).to.deep.equal([
      {
        type: "cco:test:Box",
        name: "box",
        urn: box,
        options: defaults,
        parent: undefined,
        parentType: undefined,
        parentUrn: undefined,
        custom: false,
        inputs: {},
      },
      { type: "test:index:Thing", name: "box-first", urn: first, options: defaults, ...child, inputs: { size: 1 } },
      { type: "test:index:Other", name: "box-other", urn: other, options: defaults, ...child, inputs: {} },
      {
        type: "test:index:Thing",
        name: "box-second",
        urn: urn("cco:test:Box$test:index:Thing", "box-second"),
        options: {
          ...defaults,
          dependencies: [other, first],
          dependsOn: [other],
          replaceWith: [first],
          ...PLAIN_OPTIONS,
        },
        ...child,
        inputs: { password: new SecretValue("hunter2"), firstId: "box-first-id" },
      },
    ]);
  });

  it("relies on runtime helpers that are there; registerResourceTransform still cannot run under mocks", async () => {
    expect(typeof (pulumi.runtime as unknown as { waitForRPCs?: unknown }).waitForRPCs).to.equal("function");
    await startRecording("p", "s", {});
    // A resource transform is registered with the monitor, which calls it back;
    // the mock monitor cannot (no registerStackTransform). When it can, move the recorder to it.
    const monitor = pulumi.runtime.getMonitor() as unknown as Record<string, unknown>;
    expect(monitor.registerStackTransform).to.equal(undefined);
  });
});
