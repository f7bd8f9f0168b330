import type { AppDeps } from '../../context.js';
import { Problem } from '../../http/problem.js';

/** Refused opens one address may cause per window before it is told to wait. */
export const MAX_DENIALS_PER_WINDOW = 30;
export const DENIAL_WINDOW_MS = 60_000;

type Window = { start: number; denials: number };
const windowsByDeps = new WeakMap<AppDeps, Map<string, Window>>();

/**
 * The open endpoint needs no login (the key is the proof), so anyone can send it tokens, and every
 * refusal is recorded. An address that has been refused MAX_DENIALS_PER_WINDOW times in a minute is
 * answered 429 until the minute is over, without a record, so a flood of garbage cannot fill the access
 * log or load the database. Opens that succeed never count: a busy gate behind one carrier NAT address
 * is not slowed down. Per cloud process (several processes allow that many each).
 */
export function denialLimiter(deps: AppDeps) {
  let windows = windowsByDeps.get(deps);
  if (!windows) windowsByDeps.set(deps, (windows = new Map()));
  const table = windows;
  const current = (ip: string, now: number): Window => {
    let w = table.get(ip);
    if (!w || now - w.start >= DENIAL_WINDOW_MS) {
      if (table.size > 100_000) table.clear();
      w = { start: now, denials: 0 };
      table.set(ip, w);
    }
    return w;
  };
  return {
    /** Throws 429 when this address has used up its refusals for the window. */
    check(ip: string): void {
      const now = Date.now();
      const w = current(ip, now);
      if (w.denials < MAX_DENIALS_PER_WINDOW) return;
      const retryAfter = Math.max(1, Math.ceil((w.start + DENIAL_WINDOW_MS - now) / 1000));
      throw new Problem('rate-limited', `Too many refused door opens from this address; try again in ${retryAfter} s`, { retryAfterSeconds: retryAfter }, { 'retry-after': String(retryAfter) });
    },
    denied(ip: string): void {
      current(ip, Date.now()).denials += 1;
    },
  };
}
