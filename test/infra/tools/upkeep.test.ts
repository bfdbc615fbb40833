/**
 * The upkeep script's logic on fixtures of its two sources (test/fixtures/upkeep):
 * a release as GitHub's REST API answers "Get the latest release"
 * (https://docs.github.com/en/rest/releases/releases#get-the-latest-release:
 * tag_name, draft, prerelease, body, assets[].name/digest), with the
 * checksum markers actions/runner's releaseNote.md puts in the body; and
 * nodejs.org's dist/index.json and a SHASUMS256.txt; Proxmox's template index
 * (aplinfo-pve-8.dat, in the format of proxmox/pve-manager's aplinfo/aplinfo.dat).
 * Versions and checksums there are made up, but for the template pinned today.
 */
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../../../infra/stackfile";
import {
  applyChanges,
  changes,
  nodeSha256,
  nodeVersion,
  pinned,
  runnerPin,
  templatePin,
  type GitHubRelease,
  type NodeRelease,
} from "../../../infra/tools/upkeep";

const fixture = (name: string) => readFileSync(join(__dirname, "..", "..", "fixtures", "upkeep", name), "utf8");
const release = () => JSON.parse(fixture("runner-release.json")) as GitHubRelease;
const RUNNER_SHA = "af6f8cbd9ae5a1e4b2c1a0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9";
const NODE_SHA = "5f1e2d3c4b5a69788796a5b4c3d2e1f0ffeeddccbbaa99887766554433221100";

describe("upkeep: newer runner and Node.js pins, from their release data", () => {
  it("reads the runner's version and the linux-x64 tarball's SHA-256 (asset digest and notes agree)", () => {
    expect(runnerPin(release())).to.deep.equal({ version: "2.330.0", sha256: RUNNER_SHA });
    // Without asset digests (older releases): the notes' linux-x64 marker, not the first hex string.
    const notesOnly = { ...release(), assets: [] };
    expect(runnerPin(notesOnly).sha256).to.equal(RUNNER_SHA);
  });

  it("refuses a pre-release, a missing checksum, and a digest the notes contradict", () => {
    expect(() => runnerPin({ ...release(), prerelease: true })).to.throw(/pre-release/);
    expect(() => runnerPin({ ...release(), assets: [], body: "no checksums" })).to.throw(
      /no SHA-256 of actions-runner-linux-x64-2.330.0.tar.gz/,
    );
    const r = release();
    r.assets[1]!.digest = `sha256:${"f".repeat(64)}`;
    expect(() => runnerPin(r)).to.throw(/differ/);
  });

  it("takes the newest LTS of the service's major line, and its tarball's checksum", () => {
    const index = JSON.parse(fixture("node-index.json")) as NodeRelease[];
    expect(nodeVersion(index, 22)).to.equal("22.22.0");
    expect(nodeVersion(index, 20)).to.equal("20.19.6");
    expect(() => nodeVersion(index, 25)).to.throw(/no LTS release of Node 25/);
    expect(nodeSha256(fixture("SHASUMS256-v22.22.0.txt"), "22.22.0")).to.equal(NODE_SHA);
    expect(() => nodeSha256(fixture("SHASUMS256-v22.22.0.txt"), "22.23.0")).to.throw(
      /no line for node-v22.23.0-linux-x64.tar.xz/,
    );
  });

  it("takes the newest template of the pinned package (Debian 12 stays Debian 12), with its SHA-512", () => {
    const current = pinned("lxcTemplateUrl");
    expect(templatePin(fixture("aplinfo-pve-8.dat"), current)).to.deep.equal({
      url: "http://download.proxmox.com/images/system/debian-12-standard_12.12-1_amd64.tar.zst",
      sha512: "b".repeat(128),
    });
    // The entry pinned today is in the index with the checksum the config holds.
    expect(fixture("aplinfo-pve-8.dat"))
      .to.include(`Location: system/${current.split("/").pop()}\n`)
      .and.include(pinned("lxcTemplateChecksum"));
    expect(() => templatePin("Package: other\n", current)).to.throw(/lists no amd64 debian-12-standard/);
  });

  it("moves version and checksum together in infra/config.ts, and nothing else", () => {
    const template = {
      url: "http://download.proxmox.com/images/system/debian-12-standard_12.12-1_amd64.tar.zst",
      sha512: "b".repeat(128),
    };
    const list = changes(
      { version: "2.330.0", sha256: RUNNER_SHA },
      { version: "22.22.0", sha256: NODE_SHA },
      template,
    );
    expect(list.map((c) => c.key)).to.deep.equal([
      "runnerVersion",
      "runnerSha256",
      "nodeVersion",
      "nodeSha256",
      "lxcTemplateUrl",
      "lxcTemplateChecksum",
    ]);
    const before = readFileSync(join(PROJECT_ROOT, "infra", "config.ts"), "utf8");
    const after = applyChanges(before, list);
    const changed = after.split("\n").filter((line, i) => line !== before.split("\n")[i]);
    expect(changed).to.have.length(6);
    for (const c of list) expect(after).to.include(`"${c.to}"`).and.not.include(`"${c.from}"`);
    // Current pins: nothing to do.
    const current = { version: pinned("runnerVersion"), sha256: pinned("runnerSha256") };
    const node = { version: pinned("nodeVersion"), sha256: pinned("nodeSha256") };
    expect(
      changes(current, node, { url: pinned("lxcTemplateUrl"), sha512: pinned("lxcTemplateChecksum") }),
    ).to.deep.equal([]);
  });
});
