/**
 * Test layers a machine may decline on purpose: CCO_SKIP_LAYERS=lxc,browser,engine.
 * GitHub's hosted runners (checks.yml) are not root Debian machines with LXC
 * and Debian's chromium, and do not build the Pulumi CLI (tools/pulumi); this
 * project's CI (`bash .ci/run`) never sets it, so there these layers run or
 * fail, never skip.
 */
export type Layer = "lxc" | "browser" | "engine";

/** Why the layer is declined here, or null. */
export function declinedLayer(layer: Layer): string | null {
  const listed = (process.env.CCO_SKIP_LAYERS ?? "").split(",").map((s) => s.trim());
  return listed.includes(layer) ? `CCO_SKIP_LAYERS includes ${layer} (bash .ci/run runs this layer)` : null;
}
