import { expect } from "chai";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseStatus, Pct, PctError } from "../../controller/pct";
import { useTempDir } from "../helpers/tmp";

describe("controller: pct", () => {
  const tmp = useTempDir("cco-ctl-pct-");

  it("parses pct status as pct.pm prints it", () => {
    expect(parseStatus("status: running\n")).to.equal("running");
    expect(parseStatus("status: stopped\n")).to.equal("stopped");
    expect(() => parseStatus("Configuration file 'nodes/pve/lxc/201.conf' does not exist\n")).to.throw(PctError);
  });

  /** A pct that records its argv and stdin, and answers status with $STATUS. */
  function recorder(): string {
    const bin = join(tmp.path, "pct");
    writeFileSync(
      bin,
      `#!/bin/sh\nprintf '%s\\n' "$*" >> "${tmp.path}/argv"\ncat >> "${tmp.path}/stdin"\n[ "$1" = status ] && echo "status: stopped"\n[ "$1" = start ] && exit 255\nexit 0\n`,
    );
    chmodSync(bin, 0o755);
    return bin;
  }

  it("runs each subcommand with the vmid, and exec with --keep-env 0 and the input on stdin only", async () => {
    const pct = new Pct(recorder());
    expect(await pct.status(201)).to.equal("stopped");
    await pct.rollback(201, "cco-clean");
    await pct.stop(201);
    await pct.snapshot(201, "cco-clean");
    const r = await pct.exec(201, ["/opt/cco/jit-handoff.sh"], "SECRETCONFIG\n");
    expect(r.code).to.equal(0);
    const argv = readFileSync(join(tmp.path, "argv"), "utf8");
    expect(argv).to.equal(
      "status 201\nrollback 201 cco-clean\nstop 201\nsnapshot 201 cco-clean\nexec 201 --keep-env 0 -- /opt/cco/jit-handoff.sh\n",
    );
    expect(argv).to.not.include("SECRETCONFIG");
    expect(readFileSync(join(tmp.path, "stdin"), "utf8")).to.equal("SECRETCONFIG\n");
  });

  it("fails a task that failed (exit 255), saying which", async () => {
    const err = await new Pct(recorder()).start(201).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(PctError);
    expect((err as Error).message).to.match(/pct start 201 exited 255/);
  });
});
