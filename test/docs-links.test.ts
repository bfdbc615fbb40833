/**
 * Every link in README.md and docs/ that is not a web address stays inside
 * the repository and leads somewhere: the file exists, and a #fragment names
 * a heading of that file (as GitHub makes heading anchors: lower case, spaces
 * to hyphens, punctuation other than - and _ dropped).
 */
import { expect } from "chai";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { PROJECT_ROOT } from "../infra/stackfile";

const PAGES = [
  "README.md",
  ...readdirSync(join(PROJECT_ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

/** Markdown links and images outside code: [text](target). */
function links(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

function anchors(markdown: string): Set<string> {
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, "");
  return new Set(
    [...prose.matchAll(/^#{1,6} +(.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, "")
        .replace(/ /g, "-"),
    ),
  );
}

describe("docs: links inside the repository lead somewhere", () => {
  it("finds the pages and their links (the check below can fail)", () => {
    expect(PAGES).to.include.members(["README.md", "docs/deploy.md", "docs/development.md"]);
    expect(links(readFileSync(join(PROJECT_ROOT, "README.md"), "utf8")).length).to.be.greaterThan(5);
    expect(anchors("# Set up and test\n## The API: `GET /x`\n")).to.deep.equal(
      new Set(["set-up-and-test", "the-api-get-x"]),
    );
  });

  for (const page of PAGES) {
    it(page, () => {
      const text = readFileSync(join(PROJECT_ROOT, page), "utf8");
      for (const link of links(text)) {
        if (/^(https?:|mailto:)/.test(link)) continue;
        const [path, fragment] = link.split("#") as [string, string | undefined];
        const target = path === "" ? join(PROJECT_ROOT, page) : join(PROJECT_ROOT, dirname(page), path);
        expect(relative(PROJECT_ROOT, target), `${page}: ${link} leaves the repository`).to.not.match(/^\.\./);
        expect(existsSync(target), `${page}: ${link} names no file`).to.equal(true);
        if (fragment !== undefined) {
          expect([...anchors(readFileSync(target, "utf8"))], `${page}: ${link} names no heading`).to.include(fragment);
        }
      }
    });
  }
});
