/**
 * The HTTP API (DESIGN.md, "Stats service HTTP API"). Read routes only send
 * what the store already holds; nothing here aggregates.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Published } from "./aggregate/engine";
import { ASSETS, PAGE_HEADERS, renderPage } from "./dashboard/page";
import { HISTORY_POINTS } from "./dashboard/view";
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
/** Headers of every JSON answer: JSON is never sniffed as HTML, and is always revalidated. */
const JSON_HEADERS = { "Content-Type": JSON_TYPE, "X-Content-Type-Options": "nosniff", "Cache-Control": "no-cache" };

/**
 * A request header. Under @hono/node-server the Node request rides along in
 * `c.env.incoming`; reading its already-parsed headers avoids building a
 * Fetch `Headers` object per request (a measurable share of a cached answer).
 */
function header(c: Context, name: string): string | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) {
    const v = incoming.headers[name];
    return Array.isArray(v) ? v.join(", ") : v;
  }
  return c.req.header(name);
}

/**
 * The answer of `/api/stats` for one published snapshot: a plain header
 * record built once per pass. Returned synchronously as a Response with a
 * string body and plain headers, it takes @hono/node-server's fast path
 * (straight to writeHead/end: no stream, no Headers object), and a string
 * body lets Node send headers and body in one write instead of a writev.
 */
interface CachedAnswer {
  published: Published;
  ok: Record<string, string>;
  notModified: Record<string, string>;
}
function cachedAnswer(published: Published): CachedAnswer {
  return {
    published,
    ok: { ...JSON_HEADERS, ETag: published.etag, "Content-Length": String(Buffer.byteLength(published.json)) },
    notModified: { ETag: published.etag, "Cache-Control": "no-cache" },
  };
}

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
  // No app-wide middleware: a route matched by one synchronous handler is
  // answered by Hono without composing a middleware chain (see cachedAnswer).

  let answer = cachedAnswer(store.current);
  app.get("/api/stats", (c) => {
    if (answer.published !== store.current) answer = cachedAnswer(store.current);
    if (etagMatches(header(c, "if-none-match"), answer.published.etag)) {
      return new Response(null, { status: 304, headers: answer.notModified });
    }
    return new Response(answer.published.json, { status: 200, headers: answer.ok });
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
    return c.body(store.historyJson(limit), 200, JSON_HEADERS);
  });

  // The dashboard. Its security headers are part of each answer, like
  // JSON_HEADERS above: no middleware, so /api/stats stays on its fast path.
  // The page is rendered at most once per pass (it shows that pass's numbers).
  let page: { published: Published; html: string } | null = null;
  app.get("/", () => {
    if (page?.published !== store.current) {
      const published = store.current;
      page = { published, html: renderPage(published.snapshot, store.history(HISTORY_POINTS), store.intervalMs) };
    }
    return new Response(page.html, { status: 200, headers: PAGE_HEADERS });
  });
  for (const asset of ASSETS) {
    app.get(asset.path, () => new Response(asset.body, { status: 200, headers: asset.headers }));
  }

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
