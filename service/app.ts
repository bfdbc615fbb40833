/**
 * The HTTP API (DESIGN.md, "Stats service HTTP API"). Read routes only send
 * what the store already holds; nothing here aggregates.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { BatchTooLargeError, MAX_BATCH_EVENTS, parseBatch } from "./events";
import type { EventLog } from "./eventlog";
import type { Logger } from "./log";
import type { ServiceMetrics } from "./metrics";
import type { SnapshotStore } from "./store";

/** Largest accepted POST body. */
export const MAX_BODY_BYTES = 1024 * 1024;

export interface AppDeps {
  store: SnapshotStore;
  eventLog: EventLog;
  ingestToken: string;
  metrics: ServiceMetrics;
  log: Logger;
}

const JSON_TYPE = "application/json; charset=utf-8";

/** RFC 9110 If-None-Match: a list of (possibly weak) tags, or "*". */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header === etag) return true; // what a client that cached us sends back
  return header.split(",").some((t) => {
    const tag = t.trim();
    return tag === "*" || tag === etag || tag === `W/${etag}`;
  });
}

/** Bearer token check in constant time: both sides are hashed to equal lengths first. */
export function bearerAuth(token: string): MiddlewareHandler {
  const expected = createHash("sha256").update(token).digest();
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer +(\S+) *$/i.exec(header);
    const given = createHash("sha256")
      .update(match?.[1] ?? "")
      .digest();
    // Evaluate both parts so a missing header costs the same as a wrong one.
    const ok = timingSafeEqual(given, expected) && match !== null;
    if (!ok) {
      c.header("WWW-Authenticate", 'Bearer realm="cco-stats"');
      return c.json({ error: match ? "wrong token" : "missing bearer token" }, 401);
    }
    await next();
  };
}

export function createApp(deps: AppDeps): Hono {
  const { store, eventLog, metrics, log } = deps;
  const app = new Hono();

  app.use(secureHeaders());

  app.get("/api/stats", (c) => {
    const { json, etag } = store.current;
    c.header("ETag", etag);
    c.header("Cache-Control", "no-cache");
    if (etagMatches(c.req.header("if-none-match"), etag)) return c.body(null, 304);
    return c.body(json, 200, { "Content-Type": JSON_TYPE });
  });

  app.get("/api/stats/history", (c) => {
    const raw = c.req.query("limit");
    let limit = store.historyLimit;
    if (raw !== undefined) {
      if (!/^\d+$/.test(raw) || Number(raw) < 1) {
        return c.json({ error: "limit must be a whole number of at least 1", limit: raw }, 400);
      }
      limit = Math.min(Number(raw), store.historyLimit);
    }
    c.header("Cache-Control", "no-cache");
    return c.body(store.historyJson(limit), 200, { "Content-Type": JSON_TYPE });
  });

  app.get("/healthz", (c) => {
    const h = store.health();
    return c.json(h.body, h.healthy ? 200 : 503);
  });

  app.get("/metrics", async (c) => {
    const text = await metrics.registry.metrics();
    return c.body(text, 200, { "Content-Type": metrics.registry.contentType });
  });

  const refuse = (c: Context, status: 400 | 413 | 503, reason: string, body: Record<string, unknown>) => {
    metrics.ingest.rejectedRequests.inc({ reason });
    return c.json(body, status);
  };

  app.post(
    "/api/events",
    bearerAuth(deps.ingestToken),
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => refuse(c, 413, "too_large", { error: "body over 1 MiB", limitBytes: MAX_BODY_BYTES }),
    }),
    async (c) => {
      let batch;
      try {
        batch = parseBatch(await c.req.text());
      } catch (err) {
        if (err instanceof BatchTooLargeError) {
          return refuse(c, 413, "too_many_events", { error: err.message, limitEvents: MAX_BATCH_EVENTS });
        }
        throw err;
      }
      if (!batch.ok) return refuse(c, 400, "invalid", { error: "invalid event", ...batch.error });
      const lines = batch.events.map((e) => `${JSON.stringify(e)}\n`).join("");
      try {
        await eventLog.append(lines);
      } catch (err) {
        log.error("could not append events", { error: (err as Error).message });
        return refuse(c, 503, "storage", { error: "could not store the events; retry later" });
      }
      metrics.ingest.acceptedEvents.inc(batch.events.length);
      return c.json({ accepted: batch.events.length }, 202);
    },
  );

  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.onError((err, c) => {
    log.error("request failed", { path: c.req.path, error: err.message });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
