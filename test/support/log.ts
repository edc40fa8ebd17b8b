// A pino logger that keeps its JSON lines in memory, for services run inside the test process:
// tests read lifecycle events (the stable `event` field, src/log.ts) instead of prose.
import pino from 'pino';
import type { Logger } from '../../src/log';
import { waitFor } from './wait';

export interface CapturedLog {
  log: Logger;
  lines: Array<Record<string, any>>;
}

export function captureLogger(level = 'debug'): CapturedLog {
  const lines: Array<Record<string, any>> = [];
  const log = pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, lines };
}

/**
 * Waits until `count` lines matching `pred` were logged after index `since` (a `lines.length`
 * taken earlier): e.g. two more finished scheduler ticks, proof that the job ran again.
 */
export function waitForLogged(
  lines: Array<Record<string, any>>,
  since: number,
  pred: (l: Record<string, any>) => boolean,
  count: number,
  what: string,
  timeoutMs = 15_000,
): Promise<true> {
  return waitFor(() => lines.slice(since).filter(pred).length >= count, { what, timeoutMs, intervalMs: 50 });
}
