/**
 * The private GitHub repository of cco: settings, security features, the
 * protection of main, and the workflow files committed to it.
 */
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { repositoryFiles, requiredChecks } from "./files";

export const DEFAULT_BRANCH = "main";

/** The base repository role "admin", as rulesets name bypass actors. */
const ADMIN_ROLE_ID = 5;

export interface CcoRepositoryArgs {
  /** Repository name; the repository is always private. */
  name: string;
  description: string;
  /** Labels every job runs on, `self-hosted` first. */
  runnerLabels: string[];
  /**
   * `classic` branch protection or a repository `ruleset`; on a private
   * repository GitHub offers either only on its Pro, Team or Enterprise plans.
   */
  protectionMode: "classic" | "ruleset";
  /** Approving reviews a pull request needs. */
  requiredApprovals: number;
}

export class CcoRepository extends pulumi.ComponentResource {
  readonly repository: github.Repository;
  readonly files: github.RepositoryFile[];
  readonly htmlUrl: pulumi.Output<string>;
  /** Status checks main requires (job names of the build and security workflows). */
  readonly requiredChecks: string[];

  constructor(name: string, args: CcoRepositoryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("cco:github:Repository", name, {}, opts);
    const parent = { parent: this };

    this.repository = new github.Repository(
      name,
      {
        name: args.name,
        description: args.description,
        visibility: "private",
        // Creates main, so files and protection have a branch to apply to.
        autoInit: true,
        deleteBranchOnMerge: true,
        allowMergeCommit: false,
        allowSquashMerge: true,
        allowRebaseMerge: true,
        hasIssues: true,
        hasProjects: false,
        hasWiki: false,
        // `pulumi destroy` archives the repository instead of deleting its history.
        archiveOnDestroy: true,
      },
      parent,
    );
    const repository = this.repository.name;

    // waitForRename: the files and the protection below go to main only once
    // GitHub shows the renamed branch (integrations/terraform-provider-github
    // v6.13.0, github/resource_github_branch_default.go: without it the create
    // returns as soon as the rename is asked for).
    const defaultBranch = new github.BranchDefault(
      `${name}-default-branch`,
      { repository, branch: DEFAULT_BRANCH, rename: true, waitForRename: true },
      parent,
    );
    const alerts = new github.RepositoryVulnerabilityAlerts(
      `${name}-vulnerability-alerts`,
      { repository, enabled: true },
      parent,
    );
    new github.RepositoryDependabotSecurityUpdates(
      `${name}-dependabot-security-updates`,
      { repository, enabled: true },
      { parent: this, dependsOn: [alerts] },
    );

    this.files = repositoryFiles(args.runnerLabels).map(
      (file) =>
        new github.RepositoryFile(
          `${name}/${file.path}`,
          {
            repository,
            branch: DEFAULT_BRANCH,
            file: file.path,
            content: file.content,
            commitMessage: `cco-infra: update ${file.path}`,
            commitAuthor: "cco-infra",
            commitEmail: "cco-infra@users.noreply.github.com",
            overwriteOnCreate: true,
          },
          { parent: this, dependsOn: [defaultBranch] },
        ),
    );

    // The program commits the files above as the repository's admin; protection
    // applies after them and lets admins through, or every later change to a
    // workflow would be refused.
    this.requiredChecks = requiredChecks();
    const protectionOpts = { parent: this, dependsOn: this.files };
    if (args.protectionMode === "classic") {
      new github.BranchProtection(
        `${name}-protect-${DEFAULT_BRANCH}`,
        {
          repositoryId: this.repository.nodeId,
          pattern: DEFAULT_BRANCH,
          enforceAdmins: false,
          allowsDeletions: false,
          allowsForcePushes: false,
          requireConversationResolution: true,
          requiredPullRequestReviews: [
            { requiredApprovingReviewCount: args.requiredApprovals, dismissStaleReviews: true },
          ],
          requiredStatusChecks: [{ strict: true, contexts: this.requiredChecks }],
        },
        protectionOpts,
      );
    } else {
      new github.RepositoryRuleset(
        `${name}-protect-${DEFAULT_BRANCH}`,
        {
          repository,
          name: `protect ${DEFAULT_BRANCH}`,
          target: "branch",
          enforcement: "active",
          conditions: { refName: { includes: ["~DEFAULT_BRANCH"], excludes: [] } },
          bypassActors: [{ actorId: ADMIN_ROLE_ID, actorType: "RepositoryRole", bypassMode: "always" }],
          rules: {
            deletion: true,
            nonFastForward: true,
            pullRequest: {
              requiredApprovingReviewCount: args.requiredApprovals,
              dismissStaleReviewsOnPush: true,
              requiredReviewThreadResolution: true,
            },
            requiredStatusChecks: {
              requiredChecks: this.requiredChecks.map((context) => ({ context })),
              strictRequiredStatusChecksPolicy: true,
            },
          },
        },
        protectionOpts,
      );
    }

    this.htmlUrl = this.repository.htmlUrl;
    this.registerOutputs({ htmlUrl: this.htmlUrl, requiredChecks: this.requiredChecks });
  }
}
