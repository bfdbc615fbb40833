/**
 * Writes a Runner.Worker diagnostic log the way actions/runner v2.329.0 does,
 * for the job hook's tests (the hook reads the job's result and display name
 * from it). Each shape is cited:
 * - file names `Worker_{yyyyMMdd-HHmmss}-utc.log`, a new page (file) once a
 *   page holds more than WORKER_LOGSIZE MB (default 8), same name appended when
 *   created in the same second: src/Runner.Common/HostTraceListener.cs,
 *   src/Runner.Common/HostContext.cs (_defaultLogPageSize = 8);
 * - each line `[{UtcNow:u} INFO Source] message`: HostTraceListener.WriteHeader;
 * - the first lines (Version, Commit, Culture): src/Runner.Worker/Program.cs;
 *   the job message as indented JSON after "Job message:": src/Runner.Worker/Worker.cs;
 * - the step lines: src/Runner.Worker/StepsRunner.cs, Handlers/CompositeActionHandler.cs,
 *   src/Runner.Worker/JobRunner.cs.
 */
import { appendFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { join } from "node:path";

const two = (n: number) => String(n).padStart(2, "0");
/** .NET's "u" format: 2026-11-26 18:00:00Z */
const u = (d: Date) =>
  `${d.getUTCFullYear()}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}Z`;
const fileStamp = (d: Date) =>
  `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}-${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`;

export class WorkerLog {
  private now: Date;
  private page = "";
  private pageBytes = 0;
  private readonly limit: number;
  /** Every page written, oldest first. */
  readonly pages: string[] = [];

  constructor(
    private readonly dir: string,
    start: Date,
    pageMb = 8,
  ) {
    mkdirSync(dir, { recursive: true });
    this.now = new Date(start);
    this.limit = pageMb * 1024 * 1024;
    this.newPage();
  }

  private newPage() {
    this.page = join(this.dir, `Worker_${fileStamp(this.now)}-utc.log`);
    if (!existsSync(this.page)) appendFileSync(this.page, "");
    if (!this.pages.includes(this.page)) this.pages.push(this.page);
    this.pageBytes = 0;
  }

  /** Advances the clock. */
  tick(seconds: number): this {
    this.now = new Date(this.now.getTime() + seconds * 1000);
    return this;
  }

  line(level: "INFO" | "ERR " | "VERB", source: string, message: string): this {
    appendFileSync(this.page, `[${u(this.now)} ${level} ${source}] ${message}\n`);
    this.pageBytes += Buffer.byteLength(message);
    if (this.pageBytes > this.limit) this.newPage();
    return this;
  }

  info(source: string, message: string): this {
    return this.line("INFO", source, message);
  }

  /** The Worker's start and the job message (Program.cs, Worker.cs). */
  start(display: string, version = "2.329.0"): this {
    this.info("Worker", `Version: ${version}`)
      .info("Worker", "Commit: 0000000000000000000000000000000000000000")
      .info("Worker", "Culture: ")
      .info("Worker", "UI Culture: ")
      .info("Worker", "Waiting to receive the job message from the channel.")
      .info("Worker", "Message received.");
    const message = JSON.stringify(
      { jobId: "2e4c…", jobDisplayName: display, jobName: "__default", requestId: 42 },
      null,
      2,
    );
    this.info("Worker", `Job message:\n ${message}`);
    return this.info("JobRunner", "Job ID 2e4c…").info("JobRunner", "Run all job steps.");
  }

  /** A step as StepsRunner runs it: processing, starting, its result, the job's state after it. */
  step(name: string, stepResult: string, jobState: string, extra: (log: WorkerLog) => void = () => {}): this {
    this.info("StepsRunner", `Processing step: DisplayName='${name}'`).info("StepsRunner", "Starting the step.");
    extra(this);
    this.tick(1).info("StepsRunner", `Step result: ${stepResult}`);
    return this.stateAfter(stepResult, jobState);
  }

  /** A step skipped by its condition (StepsRunner: "Skipping step due to condition evaluation."). */
  skipped(name: string, jobState: string): this {
    this.info("StepsRunner", `Processing step: DisplayName='${name}'`).info(
      "StepsRunner",
      "Skipping step due to condition evaluation.",
    );
    return this.stateAfter("Skipped", jobState);
  }

  private stateAfter(stepResult: string, jobState: string): this {
    if (stepResult === "Failed")
      this.info("StepsRunner", `Update job result with current step result '${stepResult}'.`);
    else this.info("StepsRunner", `No need for updating job result with current step result '${stepResult}'.`);
    return this.info("StepsRunner", `Current state: job state = '${jobState}'`);
  }

  /** The completed hook's step starts (its own state line comes after it ran, too late for it). */
  completedHook(): this {
    return this.info("StepsRunner", "Processing step: DisplayName='Complete runner'").info(
      "StepsRunner",
      "Starting the step.",
    );
  }

  /** What JobRunner writes after every step, the hook's too: the hook never sees it. */
  finish(result: string): this {
    return this.info("JobRunner", `Job result after all job steps finish: ${result}`).info(
      "JobRunner",
      "Completing the job execution context.",
    );
  }

  /** Filler lines (as a verbose step writes them) until a new page begins. */
  fillPage(): this {
    const first = this.page;
    const chunk = "x".repeat(64 * 1024);
    while (this.page === first) this.tick(1).line("VERB", "ProcessInvokerWrapper", chunk);
    return this;
  }

  size(): number {
    return this.pages.reduce((n, p) => n + statSync(p).size, 0);
  }
}
