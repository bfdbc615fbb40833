/**
 * cco-node.sh, the node side of a runner container's clean snapshot, run as
 * the program runs it (`bash -s -- ACTION ...`, the script on stdin) against
 * doubles of pct, pvesm and systemctl on PATH. What the doubles print and
 * refuse follows Proxmox's source:
 * - `pct config`: "rootfs: <storage>:<volume>,size=..." (pve-container src/PVE/LXC/Config.pm, 6.1.10, print of the config);
 * - `pct listsnapshot`: "`-> <name>  <time>  <description>" then "`-> current" as a child
 *   (pve-guest-common src/PVE/GuestHelpers.pm print_snapshot_tree, 4a8f6cb);
 * - `pct snapshot` refuses a name in use: "snapshot name '<name>' already used"
 *   (src/PVE/AbstractConfig.pm snapshot_prepare), exit 255 as a failed task (pct.pm);
 * - `pct rollback` stops a running container (pve-container LXC/Config.pm __snapshot_rollback_vm_stop);
 * - `pvesm status --storage ID`: a header line, then "ID TYPE STATUS ..." (pve-storage's pvesm status).
 * The real pct on a Proxmox node is not run here (no Proxmox on this machine).
 */
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nodeStep } from "../../../infra/controller/controller";
import { useTempDir } from "../../helpers/tmp";

const PCT =
  String.raw`#!/usr/bin/env bash
set -euo pipefail
S=$CCO_TEST_STATE
echo "pct $*" >> "$S/calls"
cmd=$1 vmid=$2
[ -f "$S/$vmid.storage" ] || { echo "Configuration file 'nodes/pve/lxc/$vmid.conf' does not exist" >&2; exit 255; }
case $cmd in
  config) printf 'arch: amd64\ncores: 4\nhostname: runner-01\nrootfs: %s:vm-%s-disk-0,size=50G\n' "$(cat "$S/$vmid.storage")" "$vmid" ;;
  status) printf 'status: %s\n' "$(cat "$S/$vmid.state")" ;;
  listsnapshot)
    if [ -s "$S/$vmid.snap" ]; then
      printf '%s %-26s %-23s %s\n' '` +
  "`->" +
  String.raw`' "$(cat "$S/$vmid.snap")" "2026-12-02 01:00:00" "cco clean"
      printf '%s %-25s %-23s %s\n' ' ` +
  "`->" +
  String.raw`' current "" "You are here!"
    else
      printf '%s %-26s %-23s %s\n' '` +
  "`->" +
  String.raw`' current "" "You are here!"
    fi ;;
  snapshot) [ "$(cat "$S/$vmid.snap" 2> /dev/null)" = "$3" ] && { echo "snapshot name '$3' already used" >&2; exit 255; }; echo "$3" > "$S/$vmid.snap" ;;
  delsnapshot) [ "$(cat "$S/$vmid.snap" 2> /dev/null)" = "$3" ] || { echo "snapshot '$3' does not exist" >&2; exit 255; }; rm -f "$S/$vmid.snap" ;;
  rollback) [ "$(cat "$S/$vmid.snap" 2> /dev/null)" = "$3" ] || { echo "snapshot '$3' does not exist" >&2; exit 255; }; echo stopped > "$S/$vmid.state" ;;
  start) [ "$(cat "$S/$vmid.state")" = stopped ] || { echo "CT $vmid already running" >&2; exit 255; }; echo running > "$S/$vmid.state" ;;
  *) echo "unknown $cmd" >&2; exit 255 ;;
esac
`;
const PVESM = String.raw`#!/usr/bin/env bash
set -euo pipefail
echo "pvesm $*" >> "$CCO_TEST_STATE/calls"
[ "$1 $2" = "status --storage" ] || exit 2
printf 'Name             Type     Status           Total            Used       Available        %%\n'
printf '%-16s %-8s active        100000000        1000000        99000000    1.00%%\n' "$3" "$(cat "$CCO_TEST_STATE/type.$3")"
`;
/** systemctl: the controller's state in a file; stopping it (as its SIGTERM does) stops the idle containers named in "idle". */
const SYSTEMCTL = String.raw`#!/usr/bin/env bash
S=$CCO_TEST_STATE
echo "systemctl $*" >> "$S/calls"
case "$1 $2" in
  "is-active --quiet") [ "$(cat "$S/controller")" = active ] ;;
  "stop cco-controller.service") echo inactive > "$S/controller"; for v in $(cat "$S/idle" 2> /dev/null); do echo stopped > "$S/$v.state"; done ;;
  "start cco-controller.service") echo active > "$S/controller" ;;
  *) exit 1 ;;
esac
`;

describe("controller: cco-node.sh, the reset and the clean snapshot on the node", function () {
  this.timeout(30_000);
  const tmp = useTempDir("cco-node-");
  const state = () => join(tmp.path, "state");

  beforeEach(() => {
    const bin = join(tmp.path, "bin");
    mkdirSync(bin, { recursive: true });
    mkdirSync(state(), { recursive: true });
    for (const [name, text] of [
      ["pct", PCT],
      ["pvesm", PVESM],
      ["systemctl", SYSTEMCTL],
    ] as const) {
      writeFileSync(join(bin, name), text);
      chmodSync(join(bin, name), 0o755);
    }
    writeFileSync(join(state(), "controller"), "active\n");
    writeFileSync(join(state(), "calls"), "");
    writeFileSync(join(state(), "type.local-lvm"), "lvmthin\n");
    writeFileSync(join(state(), "type.local"), "dir\n");
  });

  const container = (vmid: number, o: { state: string; snapshot?: string; storage?: string; idle?: boolean }) => {
    writeFileSync(join(state(), `${vmid}.storage`), `${o.storage ?? "local-lvm"}\n`);
    writeFileSync(join(state(), `${vmid}.state`), `${o.state}\n`);
    if (o.snapshot) writeFileSync(join(state(), `${vmid}.snap`), `${o.snapshot}\n`);
    if (o.idle) writeFileSync(join(state(), "idle"), `${vmid}\n`);
  };
  /** As the program runs it: the create command, the script on stdin. */
  const run = (action: "reset" | "take", vmid: number, waitS?: number) => {
    const step = nodeStep(action, vmid, waitS);
    const r = spawnSync("bash", ["-c", step.create], {
      input: step.stdin,
      encoding: "utf8",
      env: { PATH: `${join(tmp.path, "bin")}:${process.env.PATH ?? ""}`, CCO_TEST_STATE: state() },
    });
    return { ...r, calls: readFileSync(join(state(), "calls"), "utf8").trim().split("\n").filter(Boolean) };
  };
  const read = (f: string) => (existsSync(join(state(), f)) ? readFileSync(join(state(), f), "utf8").trim() : "(none)");

  it("take: checks the storage, stops the controller, replaces the snapshot, prints a new trigger", () => {
    container(201, { state: "running", snapshot: "cco-clean" });
    const r = run("take", 201);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^snapshot=201:cco-clean:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\n$/);
    expect(r.calls).to.deep.equal([
      "pct config 201",
      "pct config 201",
      "pvesm status --storage local-lvm",
      "systemctl is-active --quiet cco-controller.service",
      "systemctl stop cco-controller.service",
      "pct listsnapshot 201",
      "pct delsnapshot 201 cco-clean",
      "pct snapshot 201 cco-clean --description cco: clean state after provisioning, the start of every life (ephemeral runners)",
    ]);
    expect(read("201.snap")).to.equal("cco-clean");
    // The first snapshot of a new container: nothing to delete.
    container(202, { state: "running" });
    writeFileSync(join(state(), "calls"), "");
    const first = run("take", 202);
    expect(first.status, first.stderr).to.equal(0);
    expect(first.calls.filter((c) => c.startsWith("pct delsnapshot"))).to.deep.equal([]);
    expect(read("202.snap")).to.equal("cco-clean");
  });

  it("take refuses storage that cannot snapshot a container, saying which and what would do", () => {
    container(203, { state: "running", storage: "local" });
    const r = run("take", 203);
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include("rootfs is on storage local of type dir, which cannot snapshot a container");
    expect(r.stderr).to.include("LVM-thin, ZFS, Ceph RBD or btrfs");
    expect(r.calls.some((c) => c.startsWith("pct snapshot"))).to.equal(false);
    expect(read("controller"), "nothing stopped").to.equal("active");
  });

  it("reset: a new container (no snapshot yet) is left alone, the controller too", () => {
    const none = run("reset", 204, 5);
    expect(none.status, none.stderr).to.equal(0);
    container(205, { state: "running" });
    const fresh = run("reset", 205, 5);
    expect(fresh.status, fresh.stderr).to.equal(0);
    expect(fresh.calls.filter((c) => !c.startsWith("pct config") && !c.startsWith("pct listsnapshot"))).to.deep.equal(
      [],
    );
    expect(read("205.state")).to.equal("running");
  });

  it("reset: stops the controller (its idle container stops), rolls back to the clean snapshot, starts it", () => {
    container(206, { state: "running", snapshot: "cco-clean", idle: true });
    const r = run("reset", 206, 5);
    expect(r.status, r.stderr).to.equal(0);
    const order = r.calls.filter((c) => /stop|rollback|start/.test(c));
    expect(order).to.deep.equal([
      "systemctl stop cco-controller.service",
      "pct rollback 206 cco-clean",
      "pct start 206",
    ]);
    expect(read("206.state")).to.equal("running");
    expect(read("controller"), "started again by the controller's deployment, not here").to.equal("inactive");
  });

  it("reset: waits for a life running its job; past the wait, leaves it and starts the controller again", () => {
    // Busy: the controller's stop leaves it running (its job), nothing powers it off here.
    container(207, { state: "running", snapshot: "cco-clean" });
    const t0 = Date.now();
    const r = run("reset", 207, 3);
    expect(r.status).to.equal(1);
    // (bash counts SECONDS in whole seconds from its start: the wait is 2 to 3 s, then the last check.)
    expect(Date.now() - t0).to.be.within(1800, 15_000);
    expect(r.stderr).to.include("container 207 still runs a job after 3 s");
    expect(r.calls.some((c) => c.startsWith("pct rollback"))).to.equal(false);
    expect(read("207.state")).to.equal("running");
    expect(read("controller")).to.equal("active");
  });

  it("refuses a bad vmid or snapshot name before touching anything", () => {
    const r = spawnSync("bash", ["-s", "--", "take", "12; rm -rf /", "cco-clean"], {
      input: nodeStep("take", 201).stdin,
      encoding: "utf8",
      env: { PATH: `${join(tmp.path, "bin")}:${process.env.PATH ?? ""}`, CCO_TEST_STATE: state() },
    });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.include("bad vmid");
    expect(read("calls")).to.equal("");
  });
});
