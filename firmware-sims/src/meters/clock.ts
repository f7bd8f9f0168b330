/** The time a simulated meter lives in, in epoch milliseconds. Injected so tests and demos can run hours in seconds. */
export interface SimClock {
  now(): number;
}

export const systemClock: SimClock = { now: () => Date.now() };

/**
 * A clock that runs `factor` times faster than real time from `startMs`.
 *
 * @example
 * acceleratedClock(3600) // one simulated hour per real second
 */
export function acceleratedClock(factor: number, startMs = Date.now()): SimClock {
  if (!(factor > 0)) throw new Error(`clock factor must be positive, got ${factor}`);
  const realStart = Date.now();
  return { now: () => startMs + (Date.now() - realStart) * factor };
}

/** A clock that moves only when told to: tests freeze the meters, read them, then advance. */
export class ManualClock implements SimClock {
  constructor(private at = Date.UTC(2025, 0, 1, 0, 0, 0)) {}
  now(): number {
    return this.at;
  }
  advance(ms: number): void {
    if (ms < 0) throw new Error('a manual clock only moves forward');
    this.at += ms;
  }
  set(atMs: number): void {
    this.at = atMs;
  }
}
