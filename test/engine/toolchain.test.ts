/**
 * The toolchain's pins and script, checked on every machine (no CLI needed):
 * a Dependabot bump of @pulumi/pulumi without tools/pulumi/go.mod (or the
 * reverse) fails here, and build.sh refuses to build such a pair.
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ANALYZER_DIR, BUILD_SCRIPT, PROJECT_ROOT } from "../../tools/pulumi/cli";

const goMod = () => readFileSync(join(PROJECT_ROOT, "tools/pulumi/go.mod"), "utf8");
const npmPin = () =>
  (JSON.parse(readFileSync(join(PROJECT_ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> })
    .dependencies["@pulumi/pulumi"] ?? "";

/** Versions of the modules go.mod requires directly, from its require block. */
function required(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/^\s*(github\.com\/pulumi\/pulumi\/(?:pkg|sdk)\/v3)\s+(\S+)\s*$/gm)) out[m[1]!] = m[2]!;
  return out;
}

describe("engine toolchain: tools/pulumi", () => {
  it("pins pkg/v3 and sdk/v3 at exactly package.json's @pulumi/pulumi", () => {
    const pin = npmPin();
    expect(pin).to.match(/^\d+\.\d+\.\d+$/, "package.json pins @pulumi/pulumi exactly");
    expect(required(goMod())).to.deep.equal({
      "github.com/pulumi/pulumi/pkg/v3": `v${pin}`,
      "github.com/pulumi/pulumi/sdk/v3": `v${pin}`,
    });
  });

  it("repeats pkg/v3's replace of atotto/clipboard (a dependency's replace lines do not apply to us)", () => {
    expect(goMod()).to.match(
      /^replace github\.com\/atotto\/clipboard => github\.com\/tgummerer\/clipboard v0\.0\.0-20241001131231-d02d263e614e$/m,
    );
  });

  it("build.sh and the policy pack launcher are shellcheck-clean", function () {
    if (spawnSync("shellcheck", ["--version"]).status !== 0) {
      if (process.env.CI === "true") throw new Error("shellcheck is missing in CI (.ci/run installs it)");
      this.skip();
    }
    const r = spawnSync("shellcheck", ["-x", BUILD_SCRIPT, join(ANALYZER_DIR, "pulumi-analyzer-policy-nodejs")], {
      encoding: "utf8",
    });
    expect(r.stdout + r.stderr).to.equal("");
    expect(r.status).to.equal(0);
  });

  describe("build.sh on a copy of the repository's pins", () => {
    let dir = "";
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), "cco-toolchain-"));
      cpSync(join(PROJECT_ROOT, "tools/pulumi"), join(dir, "tools/pulumi"), { recursive: true });
      cpSync(join(PROJECT_ROOT, "package.json"), join(dir, "package.json"));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const run = (...args: string[]) =>
      spawnSync("bash", [join(dir, "tools/pulumi/build.sh"), ...args], {
        encoding: "utf8",
        env: { ...process.env, CCO_PULUMI_CACHE: join(dir, "cache") },
      });

    it("--path names a cache folder keyed by the version and the hash of go.mod and go.sum, and says it is not built", () => {
      const r = run("--path");
      expect(r.status, r.stderr).to.equal(3);
      expect(r.stdout.trim()).to.match(
        new RegExp(`^${join(dir, "cache")}/v${npmPin().replaceAll(".", "\\.")}-[0-9a-f]{16}/bin/pulumi$`),
      );
      const before = r.stdout;
      writeFileSync(join(dir, "tools/pulumi/go.sum"), readFileSync(join(dir, "tools/pulumi/go.sum"), "utf8") + "\n");
      expect(run("--path").stdout, "another go.sum is another key").to.not.equal(before);
    });

    it("npm run engine says in one line that the CLI is not built, and exits 2", () => {
      const r = spawnSync(
        process.execPath,
        ["--import", "tsx", join(PROJECT_ROOT, "tools/pulumi/engine.ts"), "version"],
        {
          encoding: "utf8",
          env: { ...process.env, CCO_PULUMI_CACHE: join(dir, "cache") },
        },
      );
      expect(r.status).to.equal(2);
      expect(r.stdout).to.equal("");
      expect(r.stderr.trimEnd().split("\n")).to.have.lengthOf(1);
      expect(r.stderr).to.match(
        /^the Pulumi CLI is not built here: run tools\/pulumi\/build\.sh .*\(expected at .*\/bin\/pulumi\)\n$/,
      );
    });

    it("refuses to build when package.json and go.mod disagree", () => {
      const pkg = readFileSync(join(dir, "package.json"), "utf8");
      writeFileSync(
        join(dir, "package.json"),
        pkg.replace(`"@pulumi/pulumi": "${npmPin()}"`, `"@pulumi/pulumi": "3.999.0"`),
      );
      const r = run("--path");
      expect(r.status).to.equal(1);
      expect(r.stderr).to.contain("package.json pins @pulumi/pulumi 3.999.0: bump them together");
    });
  });
});
