/**
 * The whole program: read and validate the stack config, then declare every
 * component. index.ts exports what this returns as stack outputs; the tests
 * and the offline plan run this same function under Pulumi's mock runtime.
 */
import * as pulumi from "@pulumi/pulumi";
import { checkDockerLogin, NAMESPACE, parseConfig, proxmoxLogin, type InfraConfig } from "./config";
import { firewallNetwork } from "./firewall";
import { EgressGateway } from "./gateway/gateway";
import { CcoRepository } from "./github/repository";
import { LxcTemplates } from "./proxmox/templates";
import { RunnerFleet } from "./runners/fleet";
import { SSH_PRIVATE_KEY, sshPublicKeyOf } from "./ssh";
import { projectKeys } from "./stackfile";
import { StatsService } from "./stats/service";

export interface StackOutputs {
  repositoryUrl: pulumi.Output<string>;
  runnerNames: string[];
  requiredChecks: string[];
  statsUrl: string;
  /** http://<gateway>:<port>, or "" with egressMode direct. */
  egressProxyUrl: string;
}

/** Validates the config first: a ConfigError leaves nothing registered. */
export function program(): StackOutputs {
  const all = pulumi.runtime.allConfig();
  const config = parseConfig(projectKeys(all, NAMESPACE));
  checkDockerLogin(config.runners.dockerInJobs, proxmoxLogin(all));
  // Read in clear only to derive the public half (which is no secret); the
  // private key itself reaches the resources as a secret Output.
  const sshPublicKey = sshPublicKeyOf(all[`${NAMESPACE}:${SSH_PRIVATE_KEY}`]);
  return declare(config, sshPublicKey);
}

function declare(config: InfraConfig, sshPublicKey: string): StackOutputs {
  const sshPrivateKey = new pulumi.Config(NAMESPACE).requireSecret(SSH_PRIVATE_KEY);
  const githubToken = new pulumi.Config("github").requireSecret("token");
  const ephemeral = config.runners.mode === "ephemeral";

  const repository = new CcoRepository("cco", {
    name: config.repository.name,
    description: config.repository.description,
    runnerLabels: config.runners.labels,
    protectionMode: config.repository.protectionMode,
    requiredApprovals: config.repository.requiredApprovals,
  });
  const templates = new LxcTemplates("lxc-templates", {
    nodes: config.proxmox.nodes,
    datastore: config.proxmox.templateDatastore,
    url: config.proxmox.templateUrl,
    checksum: config.proxmox.templateChecksum,
    shared: config.proxmox.templateShared,
  });
  const proxmox = { datastore: config.proxmox.datastore, bridge: config.proxmox.bridge };
  const ssh = { user: config.ssh.user, publicKey: sshPublicKey, privateKey: sshPrivateKey };
  const firewall = firewallNetwork(config);
  const stats = new StatsService("cco-stats", {
    stats: config.stats,
    network: config.network,
    proxmox,
    firewall,
    templateFileId: templates.fileId(config.stats.node),
    ssh,
  });
  // egressMode direct: no gateway, and the runners' firewall lets them out directly (infra/firewall.ts).
  const gateway =
    config.gateway &&
    new EgressGateway("cco-gateway", {
      gateway: config.gateway,
      network: config.network,
      domains: config.egress.domains,
      instances: config.runners.instances,
      stats: { url: stats.url, ip: config.stats.ip, port: config.stats.port, credentialTarget: stats.credentialTarget },
      proxmox,
      firewall,
      templateFileId: templates.fileId(config.gateway.node),
      ssh,
    });
  const { count: _count, instances, ...runners } = config.runners;
  const fleet = new RunnerFleet(
    "fleet",
    {
      instances,
      runners,
      templates,
      proxmox,
      network: config.network,
      egress: config.egress,
      firewall,
      ssh,
      repository: repository.repository.fullName,
      githubToken,
      stats: { url: stats.url, ip: config.stats.ip, port: config.stats.port, credentialTarget: stats.credentialTarget },
      nodeHosts: config.proxmox.nodeHosts,
      ...(ephemeral
        ? {
            controller: {
              // Administration of this repository only: it stays on the Proxmox nodes.
              githubToken: new pulumi.Config(NAMESPACE).requireSecret("controllerGithubToken"),
              nodejs: {
                version: config.stats.nodeVersion,
                sha256: config.stats.nodeSha256,
                tarballUrl: config.stats.nodeTarballUrl,
              },
            },
          }
        : {}),
      gateway: config.gateway && { ip: config.gateway.ip, port: config.gateway.port },
    },
    { dependsOn: gateway ? [gateway] : [] },
  ); // provisioning downloads through the gateway: it must be up first
  return {
    repositoryUrl: repository.htmlUrl,
    runnerNames: fleet.runners.map((r) => r.name),
    requiredChecks: repository.requiredChecks,
    statsUrl: stats.url,
    egressProxyUrl: gateway?.proxyUrl ?? "",
  };
}
