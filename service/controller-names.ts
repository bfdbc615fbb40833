/**
 * The stats credential of an ephemeral-runner controller is `cco-controller-<node>`
 * (infra/controller/controller.ts registers it; controller/metrics.ts posts under it).
 * The one place that says so: the aggregator keeps such names out of the runners,
 * the health check skips them, and the deployment gives them out.
 */
const CONTROLLER_PREFIX = "cco-controller-";

/** The name the controller of `node` posts its heartbeats under (its own stats credential). */
export function controllerStatsName(node: string): string {
  return `${CONTROLLER_PREFIX}${node}`;
}

/** Whether a name in the stats service is a controller's, not a runner's. */
export function isControllerName(name: string): boolean {
  return name.startsWith(CONTROLLER_PREFIX);
}
