/**
 * The HTTP API (DESIGN.md, "Stats service HTTP API"). Read routes only send
 * what the store already holds; nothing here aggregates.
 */
import type { IncomingMessage } from "node:http";
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { WINDOW_KEYS, type SeriesPoint, type WindowKey } from "./aggregate/aggregator";
import type { Published } from "./aggregate/engine";
import { CredentialStore, type Principal } from "./credentials";
import { ASSETS, PAGE_HEADERS, renderPage } from "./dashboard/page";
import { windowOf } from "./dashboard/view";
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
  /** The shared token (STATS_INGEST_TOKEN): its events may name any runner. */
  ingestToken: string;
  /** Per-runner credentials; without it only the shared token is accepted. */
  credentials?: CredentialStore;
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

/** The bearer token of a request, or null. */
function bearerToken(c: Context): string | null {
  const match = /^Bearer +(\S+) *$/i.exec(header(c, "authorization") ?? "");
  return match ? match[1]! : null;
}

export function createApp(deps: AppDeps): Hono {
  const { store, eventLog, metrics, log } = deps;
  const credentials = deps.credentials ?? new CredentialStore(null, deps.ingestToken, log);
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
  const pages = new Map<WindowKey, { published: Published; html: string }>();
  app.get("/", (c) => {
    const window = windowOf(c.req.query("window"));
    let page = pages.get(window);
    if (page?.published !== store.current) {
      const published = store.current;
      page = {
        published,
        html: renderPage(
          published.snapshot,
          JSON.parse(store.series(window)) as SeriesPoint[],
          store.intervalMs,
          window,
        ),
      };
      pages.set(window, page);
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

  app.get("/api/stats/series", (c) => {
    const window = c.req.query("window") ?? "24h";
    if (!(WINDOW_KEYS as string[]).includes(window)) {
      return c.json({ error: `window must be one of ${WINDOW_KEYS.join(", ")}`, window }, 400);
    }
    return c.body(store.series(window as WindowKey), 200, JSON_HEADERS);
  });

  const refuse = (c: Context, status: 400 | 401 | 403 | 413 | 503, reason: string, body: Record<string, unknown>) => {
    metrics.ingest.refuse(reason);
    return c.json(body, status);
  };

  // Who sent the request: one runner's credential, or the shared token.
  const authenticate: MiddlewareHandler<{ Variables: { principal: Principal } }> = async (c, next) => {
    const token = bearerToken(c);
    const principal = token === null ? null : await credentials.lookup(token);
    if (!principal) {
      c.header("WWW-Authenticate", 'Bearer realm="cco-stats"');
      return refuse(c, 401, "unauthorized", { error: token === null ? "missing bearer token" : "wrong token" });
    }
    c.set("principal", principal);
    await next();
  };

  app.post(
    "/api/events",
    authenticate,
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
      // A runner's credential speaks for that runner only: what a job on it can
      // forge stays on it (see docs/security.md).
      const { runner } = c.get("principal");
      if (runner !== null) {
        const i = batch.events.findIndex((e) => e.runner !== runner);
        if (i >= 0) {
          const got = batch.events[i]!.runner;
          return refuse(c, 403, "forged_runner", {
            error: `event ${i + 1} of the batch claims runner ${JSON.stringify(got)}, but the credential belongs to ${JSON.stringify(runner)}`,
            event: i + 1,
            field: "runner",
            expected: runner,
            got,
          });
        }
      }
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
