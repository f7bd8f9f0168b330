// The load of bench/ingest.ts: simulated gateways, each publishing its meters' readings in messages of
// BATCH readings with up to WINDOW messages in flight. Shared by the in-process `direct` source and the
// child process that runs the MQTT publishers (ingest-gateways.ts).
import type { MeterReading, ReadingsMessage } from '@estate/protocol';

export type SimGateway = { gatewayId: string; communityId: string; password: string; devices: string[]; seq: number };

/** Hands one message to the cloud; resolves when the cloud has acknowledged it (PUBACK, or committed). */
export type Send = (gw: SimGateway, message: ReadingsMessage) => Promise<void>;

export type LoadShape = { batch: number; window: number };

/** A counter that grows linearly in time (3.6 kWh/h per meter), so no interval looks like a spike. */
export function readingsFor(gw: SimGateway, devices: string[], t0: number): ReadingsMessage {
  const now = Date.now();
  const readAt = new Date(now).toISOString();
  const items: MeterReading[] = devices.map((d, i) => ({
    seq: ++gw.seq,
    meterId: d,
    readAt,
    values: { energy_import: { value: (1000 + i + (now - t0) / 1_000_000).toFixed(6), unit: 'kWh' }, voltage: { value: '229.8', unit: 'V' } },
  }));
  return { v: 1, gatewayId: gw.gatewayId, sentAt: readAt, items };
}

/**
 * Each gateway publishes its meters in messages of `shape.batch` readings, with up to `shape.window`
 * messages in flight, until `untilMs`. Pushes each message's lag (readAt -> acknowledged) to `lags`.
 * Returns the number of readings acknowledged.
 */
export async function drive(send: Send, sims: SimGateway[], shape: LoadShape, untilMs: number, t0: number, lags: number[] | null): Promise<number> {
  let readings = 0;
  await Promise.all(
    sims.map(async (gw) => {
      const lanes = Array.from({ length: shape.window }, async (_, lane) => {
        let offset = lane * shape.batch;
        while (Date.now() < untilMs) {
          if (offset >= gw.devices.length) offset %= gw.devices.length;
          const message = readingsFor(gw, gw.devices.slice(offset, offset + shape.batch), t0);
          offset += shape.window * shape.batch;
          const readAt = Date.parse(message.sentAt);
          await send(gw, message);
          lags?.push(Date.now() - readAt);
          readings += message.items.length;
        }
      });
      await Promise.all(lanes);
    }),
  );
  return readings;
}

/** Messages between bench/ingest.ts and its gateway process. */
export type ToGateways =
  | { type: 'start'; url: string; sims: SimGateway[]; shape: LoadShape }
  | { type: 'drive'; untilMs: number; t0: number; measure: boolean }
  | { type: 'close' };
export type FromGateways =
  | { type: 'ready' }
  | { type: 'driven'; readings: number; lags: number[] }
  | { type: 'closed'; seqs: Record<string, number> }
  | { type: 'failed'; error: string };
