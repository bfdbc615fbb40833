import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { NEXT_VERSION_SCRIPT } from "../../../infra/github/files";
import { useTempDir } from "../../helpers/tmp";

/** The release version script, run for real against a temporary git repository. */
describe("github: next-version.sh (release tags vYYYY.MM.DD.N)", () => {
  const tmp = useTempDir();
  const git = (...args: string[]) =>
    execFileSync("git", args, { cwd: tmp.path, stdio: ["ignore", "pipe", "pipe"] })
      .toString()
      .trim();
  const next = (day?: string) =>
    execFileSync("sh", [NEXT_VERSION_SCRIPT, ...(day ? [day] : [])], { cwd: tmp.path })
      .toString()
      .trim();

  beforeEach(() => {
    git("init", "-q");
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "first");
  });

  it("starts a day at .1", () => {
    expect(next("2026.11.26")).to.equal("v2026.11.26.1");
  });

  it("counts up within a day, from the highest tag", () => {
    git("tag", "v2026.11.26.1");
    expect(next("2026.11.26")).to.equal("v2026.11.26.2");
    git("tag", "v2026.11.26.2");
    git("tag", "v2026.11.26.10");
    expect(next("2026.11.26")).to.equal("v2026.11.26.11");
  });

  it("resets on a new day", () => {
    git("tag", "v2026.11.26.3");
    expect(next("2026.11.27")).to.equal("v2026.11.27.1");
  });

  it("ignores tags of another shape", () => {
    for (const t of [
      "v2026.11.26.5-rc",
      "v2026.11.26.x",
      "v2026.11.26.07",
      "v1.2.3",
      "2026.11.26.9",
      "v2026.11.266.1",
      "v2026.11.26",
    ])
      git("tag", t);
    expect(next("2026.11.26")).to.equal("v2026.11.26.1");
  });

  it("uses today's UTC date by default", () => {
    const today = new Date().toISOString().slice(0, 10).replaceAll("-", ".");
    expect(next()).to.equal(`v${today}.1`);
  });

  it("refuses a malformed day", () => {
    expect(() => execFileSync("sh", [NEXT_VERSION_SCRIPT, "26-11-2026"], { cwd: tmp.path, stdio: "pipe" })).to.throw(
      /day must look like 2026\.11\.26/,
    );
  });
});
