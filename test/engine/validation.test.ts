/**
 * Engine layer: what the real CLI checks of Pulumi.yaml's typed config schema
 * itself, before the program runs. `pulumi preview` (and up, destroy, refresh)
 * calls ValidateStackConfigAndApplyProjectConfig before it starts the engine
 * (pkg/cmd/pulumi/operations/preview.go of pulumi v3.248.0), which fails on
 * a missing project key without default, a `secret: true` key stored in
 * clear and a value of the wrong `type` (validateStackConfigValues and
 * validateStackConfigValue, sdk/go/common/workspace/config.go). `pulumi config
 * set` checks none of it (ApplyProjectConfig: validate=false).
 *
 * The step after these checks is starting the Node.js language host, which
 * cannot be built on this machine (docs/engine.md): the CLI here runs with a
 * PATH and PULUMI_HOME that hold none, so a plain `pulumi preview` that passes
 * stops there, with that message, having registered nothing. program.test.ts
 * runs the program past it, hosted by the Automation API.
 */
import { expect } from "chai";
import { ok, useEngine } from "../helpers/engine";
import { TEST_SECRETS } from "../helpers/program";

const NO_LANGUAGE_HOST =
  "failed to load language plugin nodejs: no language plugin 'pulumi-language-nodejs' found in the workspace or on your $PATH";

describe("engine: the real CLI's own checks of the stack config", function () {
  this.timeout(120_000);
  const e = useEngine();

  /** dev with every secret set and every provider endpoint on loopback (nothing may reach the LAN host the stack names). */
  function devStack(secrets: Record<string, string> = TEST_SECRETS) {
    e.stack("dev", secrets, { "proxmoxve:endpoint": "https://127.0.0.1:9/", "github:baseUrl": "http://127.0.0.1:9/" });
  }
  function set(key: string, value: string, ...flags: string[]) {
    ok(e.pulumi(["config", "set", ...flags, key, "--stack", "dev"], value));
  }
  function preview(...flags: string[]) {
    const r = e.pulumi(["preview", "--stack", "dev", ...flags]);
    return { status: r.status, output: r.stdout + r.stderr };
  }
  function registered(): unknown[] {
    const state = JSON.parse(ok(e.pulumi(["stack", "export", "--stack", "dev"])).stdout) as {
      deployment: { resources?: unknown[] };
    };
    return state.deployment.resources ?? [];
  }

  it("a valid stack passes them: preview goes on to start the Node.js language host (absent here) and registers nothing", () => {
    devStack();
    const r = preview();
    expect(r.status).to.equal(1);
    expect(r.output).to.not.contain("validating stack config");
    expect(r.output).to.contain(NO_LANGUAGE_HOST);
    expect(registered()).to.deep.equal([]);
  });

  it("with --policy-pack infra/policy too: the program's language host is loaded first", () => {
    devStack();
    const r = preview("--policy-pack", "infra/policy");
    expect(r.status).to.equal(1);
    expect(r.output).to.contain(NO_LANGUAGE_HOST);
  });

  for (const [key, value, type] of [
    ["runnerCount", "four", "integer"],
    ["dockerInJobs", "yes", "boolean"],
    // A plain `pulumi config set` of a list key stores a string, even JSON-looking:
    // lists are set with --path 'cco-infra:runnerLabels[0]' or in the stack file.
    ["runnerLabels", '["dev"]', "array<string>"],
  ] as const) {
    it(`refuses ${key}=${value} before the program runs: must be of type '${type}'`, () => {
      devStack();
      set(`cco-infra:${key}`, value);
      const r = preview();
      expect(r.status).to.equal(1);
      expect(r.output).to.contain(
        `error: validating stack config: Stack 'dev' with configuration key '${key}' must be of type '${type}'`,
      );
      expect(r.output).to.not.contain("language plugin");
      expect(registered()).to.deep.equal([]);
    });
  }

  it("takes a list set with --path, and checks no range: runnerCount 11 is the program's to refuse (infra/config.ts)", () => {
    devStack();
    set("cco-infra:runnerLabels[0]", "dev", "--path");
    set("cco-infra:runnerLabels[1]", "gpu", "--path");
    set("cco-infra:runnerCount", "11");
    const r = preview();
    expect(r.output).to.not.contain("validating stack config");
    expect(r.output).to.contain(NO_LANGUAGE_HOST);
  });

  it("refuses a stack without sshPrivateKey (Pulumi.yaml gives it no default)", () => {
    const { "cco-infra:sshPrivateKey": _, ...others } = TEST_SECRETS;
    devStack(others);
    const r = preview();
    expect(r.status).to.equal(1);
    expect(r.output).to.contain(
      "error: validating stack config: Stack 'dev' is missing configuration value 'sshPrivateKey'",
    );
  });

  it("refuses sshPrivateKey stored in clear (secret: true in Pulumi.yaml)", () => {
    const { "cco-infra:sshPrivateKey": key, ...others } = TEST_SECRETS;
    devStack(others);
    set("cco-infra:sshPrivateKey", key!, "--plaintext");
    const r = preview();
    expect(r.status).to.equal(1);
    expect(r.output).to.contain(
      "error: validating stack config: Stack 'dev' with configuration key 'sshPrivateKey' must be encrypted as it's secret",
    );
  });

  it("does not know the providers' secrets: without github:token and proxmoxve:apiToken it goes on (infra/config.ts must refuse them)", () => {
    devStack({ "cco-infra:sshPrivateKey": TEST_SECRETS["cco-infra:sshPrivateKey"]! });
    const r = preview();
    expect(r.output).to.not.contain("validating stack config");
    expect(r.output).to.contain(NO_LANGUAGE_HOST);
  });
});
