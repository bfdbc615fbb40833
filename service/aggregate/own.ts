/**
 * A copy of `s` that shares no memory with the text it was parsed from.
 * V8 may return strings from JSON.parse as slices of the source line, itself a
 * slice of the chunk read from disk; a slice kept in long-lived state pins the
 * whole chunk (up to 1 MiB) in the old generation. Everything the aggregation
 * keeps across events goes through here.
 */
export function ownCopy(s: string): string {
  return (" " + s).slice(1);
}
