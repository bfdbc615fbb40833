/**
 * The cco-infra policy pack: `pulumi preview --policy-pack infra/policy` (and
 * `pulumi up --policy-pack infra/policy`) from the repository root. Every
 * policy is mandatory: a violation fails the preview or the update.
 *
 * How the CLI runs it (no install step of its own): it starts its
 * `pulumi-analyzer-policy` plugin in this directory, which resolves
 * `@pulumi/pulumi/cmd/run-policy-pack` from here (Node looks in the parent
 * directories' node_modules, so the root `npm ci` is all it needs) and loads
 * this directory with ts-node, type-checking. @pulumi/policy reads the pack's
 * version from ./package.json in this directory, which is why it exists.
 */
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("cco-infra", {
  description:
    "Guardrails of cco-infra: unprivileged, firewalled, provisioned runners in range; a private repository with a protected main; no credential in clear config.",
  enforcementLevel: "mandatory",
  policies: policies(),
});
