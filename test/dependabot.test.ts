import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PROJECT_ROOT } from "../infra/stackfile";

interface Update {
  "package-ecosystem": string;
  directory?: string;
  directories?: string[];
}
const updates = (path: string) =>
  (parse(readFileSync(join(PROJECT_ROOT, path), "utf8")) as { updates: Update[] }).updates;

describe("dependabot: who bumps what", () => {
  it("this repository's covers npm, the Go tools module and the actions of every workflow it owns, in directories that exist", () => {
    const mine = updates(".github/dependabot.yml");
    expect(mine.map((u) => u["package-ecosystem"])).to.deep.equal(["npm", "github-actions", "gomod"]);
    const actions = mine.find((u) => u["package-ecosystem"] === "github-actions")!;
    expect(actions.directories).to.deep.equal(["/.github/workflows", "/infra/github/workflows"]);
    expect(existsSync(join(PROJECT_ROOT, "package.json"))).to.equal(true);
    expect(
      existsSync(join(PROJECT_ROOT, mine.find((u) => u["package-ecosystem"] === "gomod")!.directory!, "go.mod")),
    ).to.equal(true);
    for (const d of actions.directories!) expect(existsSync(join(PROJECT_ROOT, d)), d).to.equal(true);
  });

  it("the one rendered into cco leaves the workflows alone: the next deploy would revert a bump merged there", () => {
    expect(updates("infra/github/dependabot.yml").map((u) => u["package-ecosystem"])).to.deep.equal(["cargo"]);
  });
});
