/**
 * The names ephemeral mode gives out, in one place: the controller names each
 * life's runner `<slot>-<base36 time>` (controller/life.ts lifeRunnerName),
 * and its own stats credential `cco-controller-<node>`. Plain functions: the
 * health check and the runners' removal use them without Pulumi.
 */

/** Whether `name` is a runner of one of `slot`'s lives. */
export function isLifeOf(name: string, slot: string): boolean {
  return name.startsWith(`${slot}-`) && /^[0-9a-z]+$/.test(name.slice(slot.length + 1));
}

export { controllerStatsName, isControllerName } from "../../service/controller-names";
