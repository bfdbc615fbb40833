/**
 * How the stats service's Node process is started where it is deployed (the
 * systemd unit renders these flags; the bench starts the service the same way).
 *
 * --max-old-space-size=128: Node 20 sizes its heap from the host's memory, not
 * the container's limit, and under JSON.parse at full speed V8 grows the heap
 * far past the live set (about 25 MB after 1M events): RSS swung from 140 to
 * 180 MB between identical cold passes; 117-124 MB with this bound.
 *
 * --v8-pool-size=1: V8's GC helper threads run at normal priority; on a 2-core
 * host four of them bursting during a cold pass raised p99 of /api/stats
 * (median of 3 rounds: 2.9-3.5x the bare server's p99 -> 2.7x with one).
 */
export const STATS_NODE_FLAGS = ["--max-old-space-size=128", "--v8-pool-size=1"] as const;
