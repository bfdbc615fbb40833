/**
 * The whole program: read and validate the stack config, then declare every
 * component. index.ts exports what this returns as stack outputs; the tests
 * and the offline plan run this same function under Pulumi's mock runtime.
 */
import * as pulumi from "@pulumi/pulumi";
import { NAMESPACE, parseConfig, type InfraConfig } from "./config";
import { CcoRepository } from "./github/repository";
import { lxcTemplates, RunnerFleet } from "./runners/fleet";
import { projectKeys } from "./stackfile";
import { StatsService } from "./stats/service";

export interface StackOutputs {
  repositoryUrl: pulumi.Output<string>;
  runnerNames: string[];
  requiredChecks: string[];
  statsUrl: string;
}

/** Validates the config first: a ConfigError leaves nothing registered. */
export function program(): StackOutputs {
  const config = parseConfig(projectKeys(pulumi.runtime.allConfig(), NAMESPACE));
  return declare(config);
}

export function declare(config: InfraConfig): StackOutputs {
  const sshPrivateKey = new pulumi.Config(NAMESPACE).requireSecret("sshPrivateKey");
  const githubToken = new pulumi.Config("github").requireSecret("token");

  const repository = new CcoRepository("cco", {
    name: config.repository.name,
    description: config.repository.description,
    runnerLabels: config.runners.labels,
    protectionMode: config.repository.protectionMode,
    requiredApprovals: config.repository.requiredApprovals,
  });
  const templates = lxcTemplates(config);
  const stats = new StatsService("cco-stats", { config, template: templates[config.stats.node]!, sshPrivateKey });
  const fleet = new RunnerFleet("fleet", {
    config,
    templates,
    repository: repository.repository.fullName,
    githubToken,
    sshPrivateKey,
    statsUrl: stats.url,
    ingestToken: stats.ingestToken,
  });
  return {
    repositoryUrl: repository.htmlUrl,
    runnerNames: fleet.runners.map((r) => r.name),
    requiredChecks: repository.requiredChecks,
    statsUrl: stats.url,
  };
}
