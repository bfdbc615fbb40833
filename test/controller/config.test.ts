import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseConfig, secrets } from "../../controller/config";
import { useTempDir } from "../helpers/tmp";

const good = { repo: "brentley/cco", labels: ["self-hosted"], runners: [{ vmid: 201, name: "runner-01" }] };

describe("controller: config", () => {
  const tmp = useTempDir("cco-ctl-");
  it("fills the defaults", () => {
    const c = parseConfig(good);
    expect(c).to.include({
      apiUrl: "https://api.github.com",
      runnerGroupId: 1,
      snapshot: "cco-clean",
      pct: "/usr/sbin/pct",
      metricsHost: "127.0.0.1",
      pollMs: 500,
    });
  });

  for (const [what, value, message] of [
    ["a repo without owner", { ...good, repo: "cco" }, /repo = "cco": owner\/name/],
    ["no label", { ...good, labels: [] }, /labels = \[\]/],
    ["a label with a space", { ...good, labels: ["a b"] }, /labels.0 = "a b": a runner label/],
    [
      "a duplicate vmid",
      {
        ...good,
        runners: [
          { vmid: 201, name: "a" },
          { vmid: 201, name: "b" },
        ],
      },
      /runners .*vmids must be unique/,
    ],
    ["a vmid below 100", { ...good, runners: [{ vmid: 99, name: "a" }] }, /runners.0.vmid = 99/],
    ["an unknown key", { ...good, token: "x" }, /Unrecognized key/],
  ] as const) {
    it(`rejects ${what}, naming the field and the value`, () => {
      expect(() => parseConfig(value)).to.throw(Error, message);
    });
  }

  it("reads the token from the credentials directory, never from the config", () => {
    const dir = tmp.path;
    expect(() => secrets({ CREDENTIALS_DIRECTORY: dir })).to.throw(/credential github-token missing/);
    writeFileSync(join(dir, "github-token"), "github_pat_x\n");
    expect(secrets({ CREDENTIALS_DIRECTORY: dir })).to.deep.equal({ githubToken: "github_pat_x", ingestToken: "" });
    expect(() => secrets({})).to.throw(/no credentials/);
  });
});
