import { expect } from "chai";
import { runTool } from "../../helpers/tool";
import { helpText, HelpRequested, parseCommandLine, UsageError, type CliSpec } from "../../../infra/tools/cli";

const SPEC = {
  command: "npm run x --",
  summary: "A tool.",
  options: {
    stack: { type: "string", value: "NAME", short: "s", description: "the stack" },
    json: { type: "boolean", description: "JSON" },
    set: { type: "string", multiple: true, description: "a value" },
  },
} satisfies CliSpec;

describe("tools: one command line for every tool (node:util.parseArgs)", () => {
  it("parses flags, short flags and repeated values", () => {
    const { values } = parseCommandLine(SPEC, ["-s", "prod", "--json", "--set", "a=1", "--set=b=2"]);
    expect(values).to.deep.equal({ stack: "prod", json: true, set: ["a=1", "b=2"] });
  });

  for (const [argv, message] of [
    [["--stak", "prod"], "unknown option --stak (see npm run x -- --help)"],
    [["--stack"], "--stack needs a value (see npm run x -- --help)"],
    [["--stack", "--json"], "--stack needs a value (see npm run x -- --help)"],
    [["--json=yes"], "--json takes no value (see npm run x -- --help)"],
    [["extra"], "unexpected argument extra (see npm run x -- --help)"],
  ] as const) {
    it(`refuses ${argv.join(" ")} in one line`, () => {
      expect(() => parseCommandLine(SPEC, [...argv])).to.throw(UsageError, message);
    });
  }

  it("answers --help with the usage, every option and its value", () => {
    expect(() => parseCommandLine(SPEC, ["--help"])).to.throw(HelpRequested);
    expect(helpText(SPEC).split("\n")).to.deep.equal([
      "usage: npm run x -- [options]",
      "A tool.",
      "",
      "  -s, --stack NAME  the stack",
      "  --json            JSON",
      "  --set VALUE       a value (repeatable)",
      "  -h, --help        this text",
    ]);
  });
});

describe("tools: --help, and a wrong command line is one line and exit 2", function () {
  this.timeout(60_000);
  const TOOLS: Array<[string, string]> = [
    ["plan", "infra/plan/main.ts"],
    ["health", "infra/runners/health.ts"],
    ["upkeep", "infra/tools/upkeep.ts"],
    ["bench", "test/bench/index.ts"],
    ["screenshot", "test/tools/screenshot.ts"],
    ["sync:project", "infra/tools/sync-project.ts"],
    ["build:dashboard", "infra/tools/build-dashboard.ts"],
    ["lint:workflows", "test/lint-workflows.ts"],
  ];
  for (const [name, script] of TOOLS) {
    it(`npm run ${name}`, async () => {
      const help = await runTool(script, ["--help"]);
      expect(help.code, help.stderr).to.equal(0);
      expect(help.stdout).to.match(new RegExp(`^usage: npm run ${name} -- `));
      expect(help.stdout).to.include("-h, --help");
      const bad = await runTool(script, ["--no-such-flag"]);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.equal(`${name}: unknown option --no-such-flag (see npm run ${name} -- --help)\n`);
      expect(bad.stdout).to.equal("");
    });
  }
});
