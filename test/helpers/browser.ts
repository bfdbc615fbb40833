/**
 * Debian's chromium driven by playwright-core (never a downloaded browser).
 * Background networking, component updates and sync are off: with them on,
 * chromium keeps dialing Google's services, which this network refuses.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { declinedLayer } from "./layers";

export const CHROMIUM_PATH = "/usr/bin/chromium";
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * Why browser tests cannot run on this machine, or null when they can.
 * Under CI=true a missing chromium is an error: CI installs it, it never skips.
 */
export function chromiumUnavailable(): string | null {
  const declined = declinedLayer("browser");
  if (declined) return declined;
  if (existsSync(CHROMIUM_PATH)) return null;
  const reason = `${CHROMIUM_PATH} is missing (apt-get install chromium, or bash .ci/run)`;
  if (process.env.CI === "true") throw new Error(`CI=true but ${reason}`);
  return reason;
}

/** Headless chromium; playwright gives it a fresh user-data-dir and removes it on close. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}
