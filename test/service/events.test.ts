import { expect } from "chai";
import {
  BatchTooLargeError,
  EventSchema,
  eventProblems,
  isValidEvent,
  MAX_BATCH_EVENTS,
  MAX_NAME_LENGTH,
  parseBatch,
  parseIsoTime,
} from "../../service/events";
import { completed, heartbeat, started } from "../helpers/events";

describe("events: the contract", () => {
  describe("parseBatch", () => {
    it("accepts one JSON event, even pretty-printed over several lines", () => {
      const r = parseBatch(JSON.stringify(started({ runId: 1 }), null, 2));
      expect(r.ok).to.equal(true);
      if (r.ok) expect(r.events).to.have.length(1);
    });

    it("accepts NDJSON, ignoring blank lines and CRLF", () => {
      const body = `${JSON.stringify(started({ runId: 1 }))}\r\n\n${JSON.stringify(heartbeat("runner-02"))}\n`;
      const r = parseBatch(body);
      expect(r.ok).to.equal(true);
      if (r.ok) expect(r.events.map((e) => e.type)).to.deep.equal(["job_started", "heartbeat"]);
    });

    it("keeps extra fields (the audit trail)", () => {
      const r = parseBatch(
        JSON.stringify({
          ...started({ runId: 1 }),
          actor: "octocat",
          sha: "abc",
          ref: "refs/heads/main",
          event: "push",
        }),
      );
      expect(r.ok && r.events[0]).to.include({ actor: "octocat", sha: "abc", ref: "refs/heads/main", event: "push" });
    });

    it("names the first bad line (1-based, blank lines counted) and its field", () => {
      const body = [
        JSON.stringify(started({ runId: 1 })),
        "",
        JSON.stringify({ ...started({ runId: 2 }), runId: -4 }),
      ].join("\n");
      const r = parseBatch(body);
      expect(r).to.deep.include({ ok: false });
      if (!r.ok) {
        expect(r.error.line).to.equal(3);
        expect(r.error.field).to.equal("runId");
      }
    });

    it("says in plain words every problem of the first bad line: field, what was expected, what came", () => {
      const bad = { ...started({ runId: 1 }), runId: "12", ts: undefined, result: "ok" };
      const r = parseBatch(`${JSON.stringify(started({ runId: 1 }))}\n${JSON.stringify(bad)}\n{"v":7}\n`);
      expect(r.ok).to.equal(false);
      if (r.ok) return;
      expect(r.error.line).to.equal(2);
      expect(r.error.field).to.equal("ts");
      expect(r.error.problems).to.deep.equal([
        {
          field: "ts",
          expected: "an ISO-8601 time with a zone, like 2026-11-26T18:00:00.000Z (a real date, from 1970)",
          got: "nothing",
        },
        { field: "runId", expected: "a whole number of at least 1", got: '"12"' },
      ]);
      expect(r.error.message).to.equal(
        'line 2: ts: expected an ISO-8601 time with a zone, like 2026-11-26T18:00:00.000Z (a real date, from 1970), got nothing; runId: expected a whole number of at least 1, got "12"',
      );
      // Nothing in zod's words.
      expect(r.error.message).to.not.match(/Invalid input|received|ZodError/i);
    });

    it("accepts a heartbeat's listener state and exit code, and says what is wrong with them", () => {
      expect(
        parseBatch(JSON.stringify({ ...heartbeat("r"), listener: "failed", listenerExitCode: 3 })),
      ).to.deep.include({ ok: true });
      expect(
        parseBatch(JSON.stringify({ ...heartbeat("r"), listener: "stopped", listenerExitCode: null })),
      ).to.deep.include({ ok: true });
      const r = parseBatch(JSON.stringify({ ...heartbeat("r"), listener: "dead", listenerExitCode: 1.5 }));
      expect(!r.ok && r.error.problems.map((p) => `${p.field}=${p.got}`)).to.deep.equal([
        'listener="dead"',
        "listenerExitCode=1.5",
      ]);
    });

    it("says which line is not JSON", () => {
      const r = parseBatch(`${JSON.stringify(started({ runId: 1 }))}\n{"v":1,\n`);
      expect(!r.ok && r.error).to.include({ line: 2, field: "(json)" });
    });

    it("rejects an empty body", () => {
      const r = parseBatch("  \n");
      expect(!r.ok && r.error.message).to.equal("body is empty");
    });

    const bad: Array<[string, Record<string, unknown>, string]> = [
      ["unknown type", { ...heartbeat("r"), type: "job_queued" }, "type"],
      ["wrong version", { ...heartbeat("r"), v: 2 }, "v"],
      ["time without zone", { ...heartbeat("r"), ts: "2026-11-26T18:00:00" }, "ts"],
      ["impossible date", { ...heartbeat("r"), ts: "2026-13-45T18:00:00Z" }, "ts"],
      ["empty runner", heartbeat(""), "runner"],
      ["repo without owner", { ...started({ runId: 1 }), repo: "cco" }, "repo"],
      ["fractional runId", { ...started({ runId: 1 }), runId: 1.5 }, "runId"],
      ["runAttempt as text", { ...started({ runId: 1 }), runAttempt: "1" }, "runAttempt"],
      ["completion without result", (({ result: _r, ...e }) => e)(completed({ runId: 1 }, 5)), "result"],
      ["unknown result", { ...completed({ runId: 1 }, 5), result: "skipped" }, "result"],
      ["overlong job name", { ...started({ runId: 1 }), job: "x".repeat(MAX_NAME_LENGTH + 1) }, "job"],
    ];
    for (const [what, event, field] of bad) {
      it(`rejects ${what}, naming ${field}`, () => {
        const r = parseBatch(JSON.stringify(event));
        expect(r.ok).to.equal(false);
        if (!r.ok) expect(r.error.field).to.equal(field);
      });
    }

    it(`refuses more than ${MAX_BATCH_EVENTS} events`, () => {
      const line = JSON.stringify(heartbeat("r"));
      expect(parseBatch(`${line}\n`.repeat(MAX_BATCH_EVENTS))).to.deep.include({ ok: true });
      expect(() => parseBatch(`${line}\n`.repeat(MAX_BATCH_EVENTS + 1))).to.throw(BatchTooLargeError);
    });
  });

  describe("parseIsoTime", () => {
    it("reads the time exactly as Date.parse does for real times", () => {
      for (const ts of [
        "2026-11-26T18:00:00.000Z",
        "2026-11-26T18:00:00Z",
        "2026-11-26T18:00:00.5Z",
        "2026-11-26T18:00:00.25Z",
        "2026-11-26T18:00:00.123456789Z",
        "2026-11-26T20:30:00+02:30",
        "2026-11-26T10:00:00-08:00",
        "2024-02-29T12:00:00Z",
        "1970-01-01T00:00:00Z",
        "2099-12-31T23:59:59.999Z",
      ]) {
        expect(parseIsoTime(ts), ts).to.equal(Date.parse(ts));
      }
    });

    it("refuses what is not a real time, even where Date.parse is lenient", () => {
      for (const ts of [
        "2026-02-30T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2026-11-31T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-11-26T24:00:00Z",
        "2026-11-26T18:60:00Z",
        "2026-11-26T18:00:60Z",
        "2026-11-26T18:00:00+24:00",
        "1969-12-31T23:59:59Z",
        "2026-11-26T18:00:00",
        "2026-11-26 18:00:00Z",
        "2026-11-26T18:00:00.Z",
        "2026-11-26T18:00:00.1234567890Z",
        "2026-11-26",
      ]) {
        expect(parseIsoTime(ts), ts).to.be.NaN;
      }
    });

    it("answers the same whatever it read before (the day it remembers never decides a wrong one)", () => {
      // A valid time, then others sharing its day with a bad rest, or a bad day that a looser key would confuse with it, in every order.
      const times = [
        "2026-11-26T18:07:59.250Z",
        "2026-11-26T18:07:60Z",
        "2026-11-26T18:07:5xZ",
        "2026-11-26T18:07-00Z",
        "2026-11-26T18:07:00+24:00",
        "2026-11-26T18:07:00.Z",
        "2026-11-26T18:07:00",
        "2026-11-26T18:07:00+02:00",
        "2026-11-26T19:07:00Z",
        "2026-11-26T28:07:00Z",
        "2026-11-26T18:17:00Z",
        "2026-02-30T18:07:00Z",
        "2026-11-26T18:07:59.9999Z",
        "1969-11-26T18:07:00Z",
        "2026-11-26X18:07:00Z",
        "2027-01-05T00:00:00Z",
        "2026-17-05T00:00:00Z",
        "2026-12-37T00:00:00Z",
        "2027-01-05T00:00:00.000+01:00",
      ];
      const first = new Map(times.map((ts) => [ts, parseIsoTime(ts)]));
      for (const ts of times) {
        const want =
          /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/.test(ts) &&
          !Number.isNaN(Date.parse(ts)) &&
          Date.parse(ts) >= 0;
        for (const before of times) {
          parseIsoTime(before);
          const got = parseIsoTime(ts);
          expect(Number.isNaN(got) ? NaN : got, `${ts} after ${before}`).to.deep.equal(first.get(ts));
        }
        if (!want) expect(first.get(ts), ts).to.be.NaN;
      }
      expect(first.get("2026-11-26T18:07:59.250Z")).to.equal(Date.parse("2026-11-26T18:07:59.250Z"));
      expect(first.get("2026-11-26T18:07:00+02:00")).to.equal(Date.parse("2026-11-26T18:07:00+02:00"));
    });
  });

  describe("isValidEvent (the aggregation fast path) agrees with the zod schema", () => {
    // Every field of every type, replaced by values that are wrong in different ways.
    const variants: unknown[] = [
      undefined,
      null,
      "",
      "x",
      0,
      -1,
      1,
      1.5,
      2 ** 60,
      true,
      [],
      {},
      "a/b",
      "a b/c",
      "x".repeat(MAX_NAME_LENGTH + 1),
      "2026-11-26T18:00:00.000Z",
      "2026-11-26T18:00:00+02:00",
      "2026-11-26 18:00:00Z",
      "2026-02-30T00:00:00Z",
      "job_started",
      "job_completed",
      "heartbeat",
      "succeeded",
      "failed",
      "cancelled",
      "skipped",
      "2024-02-29T23:59:59.999999999Z",
      "2023-02-29T00:00:00Z",
      "2026-11-26T24:00:00Z",
      "2026-11-26T18:00:00.Z",
      "2026-11-26T18:00:00.1234567890Z",
      "2026-11-26T18:00:00+2:00",
      "1969-12-31T23:59:59Z",
      "２０２６-11-26T18:00:00Z",
      "2026-11-26T18:00:00z",
      "2026-11-26T18:00:00Z ",
      "running",
      "stopped",
      "refused",
      3,
      -2,
      // Repository names: every kind of whitespace (as \s means it), slashes out of place, control characters (allowed).
      "a\tb/c",
      "a/b\n",
      "a\u00a0b/c",
      "a/b\u3000",
      "a/\ufeffb",
      "a\u2028/b",
      "a\u200ab/c",
      "a\u180eb/c",
      "/b",
      "a/",
      "a//b",
      "a/b/c",
      "a\u0001b/c",
      "ä/ö",
    ];
    const bases = [started({ runId: 7 }), completed({ runId: 7 }, 9, "failed"), heartbeat("runner-03")];
    const fields = [
      "v",
      "type",
      "ts",
      "runner",
      "repo",
      "workflow",
      "job",
      "runId",
      "runAttempt",
      "result",
      "listener",
      "listenerExitCode",
      "extra",
    ];

    it("on valid events and every single-field mutation of them", () => {
      let checked = 0;
      let valid = 0;
      for (const base of bases) {
        for (const field of fields) {
          for (const value of variants) {
            const e: Record<string, unknown> = { ...base };
            if (value === undefined) delete e[field];
            else e[field] = value;
            const zodSays = EventSchema.safeParse(e).success;
            expect(isValidEvent(e), `${JSON.stringify(e)}`).to.equal(zodSays);
            expect(eventProblems(e).length === 0, `problems of ${JSON.stringify(e)}`).to.equal(zodSays);
            checked++;
            if (zodSays) valid++;
          }
        }
      }
      // Both outcomes were exercised in numbers, so agreement means something.
      expect(checked).to.equal(bases.length * fields.length * variants.length);
      expect(valid).to.be.greaterThan(50);
      expect(checked - valid).to.be.greaterThan(300);
    });

    it("on values that are not objects", () => {
      for (const v of [null, 1, "x", [], [started({ runId: 1 })]]) {
        expect(isValidEvent(v)).to.equal(EventSchema.safeParse(v).success).and.equal(false);
      }
    });
  });
});
