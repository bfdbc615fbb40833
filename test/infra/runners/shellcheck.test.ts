import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../../infra/stackfile";

/** Every shell script the program copies into containers or commits to the repository, and the test harness's. */
function scripts(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (
        e.name.endsWith(".sh") ||
        e.name.endsWith(".sh.template") ||
        /^#!(\/usr\/bin\/env bash|\/bin\/bash)\n/.test(readFileSync(p, "utf8"))
      )
        found.push(p);
    }
  };
  walk(join(PROJECT_ROOT, "infra"));
  // The LXC end-to-end test's harness and runner stub.
  walk(join(PROJECT_ROOT, "test", "lxc"));
  return found.sort();
}

describe("scripts: shellcheck", () => {
  const available = spawnSync("shellcheck", ["--version"]).status === 0;
  before(function () {
    if (!available && process.env.CI) throw new Error("shellcheck is missing in CI (.ci/run installs it)");
    if (!available) this.skip();
  });

  it("finds the scripts", () => {
    expect(scripts().map((s) => s.slice(PROJECT_ROOT.length + 1))).to.include.members([
      "infra/runners/files/provision.sh",
      "infra/runners/files/egress.sh",
      "infra/runners/files/forwarder.sh",
      "infra/runners/files/job-hook.sh",
      "infra/stats/files/provision-stats.sh",
      "infra/controller/files/cco-node.sh",
      "infra/controller/files/provision-controller.sh",
      "infra/github/scripts/next-version.sh",
      "test/lxc/rootfs.sh",
      "test/lxc/runner-stub/bin/Runner.Listener",
      "test/lxc/runner-stub/bin/Runner.Worker",
      "test/lxc/runner-stub/run-helper.sh.template",
      "infra/runners/files/drain.sh",
      "infra/runners/files/runner-env.sh",
    ]);
  });

  for (const script of scripts()) {
    it(script.slice(PROJECT_ROOT.length + 1), () => {
      const r = spawnSync(
        "shellcheck",
        ["-x", "-P", "SCRIPTDIR", "-P", join(PROJECT_ROOT, "infra/runners/files"), script],
        { encoding: "utf8" },
      );
      expect(r.stdout + r.stderr, script).to.equal("");
      expect(r.status).to.equal(0);
    });
  }

  it("and shellcheck does catch a mistake", () => {
    const r = spawnSync("shellcheck", ["-s", "bash", "-"], { input: "#!/bin/bash\nrm -rf $DIR/*\n", encoding: "utf8" });
    expect(r.status).to.not.equal(0);
  });
});
