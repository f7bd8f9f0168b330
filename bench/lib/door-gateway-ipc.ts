// What bench/doors.ts asks of the door gateway, wherever it runs: in the bench's own process (--topology
// single) or in a child process of its own (--topology split, bench/lib/door-gateway-child.ts, over IPC).
// Times crossing the process boundary are read from the monotonic clock (`hrMs`), which both processes
// share, and turned into the parent's performance.now() with `fromHr`.
import { readFileSync } from 'node:fs';
import type { GatewayConfig, RosterDoor } from '@estate/protocol';

/** The system's monotonic clock in ms (process.hrtime: CLOCK_MONOTONIC, the same in every process). */
export const hrMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** A monotonic reading (`hrMs`, from any process) as this process's performance.now(). */
export const fromHr = (hr: number): number => hr - (hrMs() - performance.now());

export type DoorVersions = { roster: number | null; keySet: number | null; revocations: number | null };

/** When the gateway took an online open and answered it (`hrMs`), keyed by command id. */
export type GatewayMarks = Record<string, { gatewayIn?: number; gatewayOut?: number }>;

/**
 * How long this process's main thread (the event loop) has waited, runnable, for a core: the second field
 * of /proc/self/schedstat (Linux), in ms; null where there is none.
 */
export function runQueueMs(): number | null {
  try {
    return Number(readFileSync('/proc/self/schedstat', 'utf8').split(' ')[1]) / 1e6;
  } catch {
    return null;
  }
}

/** A process's counters at one moment; two of them give its CPU and event-loop use in between. */
export type ProcessSample = { at: number; cpuMicros: number; eluActive: number; eluIdle: number; loopDelayP99: number; runQueueMs: number | null };

/**
 * The difference of two samples: CPU per wall second (cores), event-loop busy fraction, loop delay p99
 * (ms), and the fraction of the time the event loop's thread was ready to run but waited for a core.
 */
export type ProcessUse = { cpuCores: number; elu: number; loopDelayP99: number; runQueueWait: number | null };

export function processUse(before: ProcessSample, after: ProcessSample): ProcessUse {
  const seconds = (after.at - before.at) / 1000;
  const active = after.eluActive - before.eluActive;
  const idle = after.eluIdle - before.eluIdle;
  return {
    cpuCores: Number(((after.cpuMicros - before.cpuMicros) / 1e6 / seconds).toFixed(2)),
    elu: Number((active / (active + idle || 1)).toFixed(2)),
    loopDelayP99: after.loopDelayP99,
    runQueueWait: before.runQueueMs === null || after.runQueueMs === null ? null : Number(((after.runQueueMs - before.runQueueMs) / (after.at - before.at)).toFixed(2)),
  };
}

/** The requests to the gateway process and their answers. */
export type GatewayCalls = {
  /** Start the gateway with this config (the one the API provisioned). */
  start: { args: { config: GatewayConfig; statusEveryMs: number }; result: { bootId: string } };
  /** Power up the locks (secrets as the API returned them) and wait until the gateway holds `doors` doors and its reader listens. */
  locks: { args: { locks: { address: string; secret: string }[]; doors: number }; result: { readerUrl: string; doors: RosterDoor[] } };
  versions: { args: Record<string, never>; result: DoorVersions };
  /** Resolves when the gateway holds a revocation list of version `atLeast` or newer (polled every 1 ms), with when (`hrMs`). */
  revocations: { args: { atLeast: number; timeoutMs: number }; result: { version: number; at: number } };
  outbox: { args: Record<string, never>; result: { depth: number; byChannel: Record<string, { depth: number }> } };
  /** The gateway marks of online opens since the last call (then forgotten). */
  marks: { args: Record<string, never>; result: GatewayMarks };
  /** The gateway process's counters now (its loop delay histogram restarts). */
  sample: { args: Record<string, never>; result: ProcessSample };
  stop: { args: Record<string, never>; result: Record<string, never> };
};
export type GatewayCall = keyof GatewayCalls;

export type ToGatewayProcess = { [K in GatewayCall]: { id: number; call: K; args: GatewayCalls[K]['args'] } }[GatewayCall];
export type FromGatewayProcess = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
