/**
 * A map's entries in code-unit order of their keys: the snapshot lists
 * runners, repositories, slots and controllers the same way on every pass
 * (the same bytes give the same ETag), whatever order they were first seen in.
 */
export function sortedEntries<V>(map: ReadonlyMap<string, V>): [string, V][] {
  return [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
