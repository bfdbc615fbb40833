/** The windows the tiles and charts cover (no Node APIs: the browser script reads them too). */
export const WINDOWS = { "1h": 60, "24h": 24 * 60, "7d": 7 * 24 * 60 } as const;
export type WindowKey = keyof typeof WINDOWS;
export const WINDOW_KEYS = Object.keys(WINDOWS) as WindowKey[];
/** Chart resolution of each window, in minutes per point. */
export const SERIES_STEP_MINUTES: Record<WindowKey, number> = { "1h": 1, "24h": 10, "7d": 60 };
