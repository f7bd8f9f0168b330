import { sql } from 'drizzle-orm';
import { topics, type MeterReading, type ReadingsMessage } from '@estate/protocol';
import type { AppDeps } from '../../context.js';
import type { Database } from '../../db/client.js';
import { rowsOf } from '../../db/migrate.js';
import { gateways, ingestRejections } from '../gateways/gateways.schema.js';
import { ingestMetrics, type IngestMetrics } from './ingest-metrics.js';
import { meterAt } from './meter-facts.js';
import { deviceKey, MeterDirectory } from './meter-directory.js';
import { meterReadings } from './meters.schema.js';
import { toMicro } from './reading-anomalies.js';
import { storeReadings, type NewReading } from './reading-store.js';
import { FUTURE_SKEW_MS, lockMeterRouting } from './meters.service.js';

export type GatewayRef = { communityId: string; gatewayId: string };

export type ReadingIngestOptions = {
  /** A batch is written once it holds this many readings (whole messages; default 5000). */
  maxBatchRows?: number;
  /** ...or once its first message has waited this long (default 20 ms). */
  maxDelayMs?: number;
  /**
   * Batches written at the same time, each on its own connection (default 2): one is in PostgreSQL
   * while the next is prepared. Gateways are spread over lanes by id, so one meter's readings always
   * go through the same lane.
   */
  lanes?: number;
};

export type ReadingIngest = {
  /** Resolves once every reading of the message is committed (stored or kept as a rejection); rejects if not. */
  handle(gateway: GatewayRef, message: ReadingsMessage): Promise<void>;
  /** Writes whatever is waiting and resolves when it is committed. */
  flush(): Promise<void>;
  /** Flushes, then refuses further messages. */
  close(): Promise<void>;
};

export type RejectReason = 'unknown-meter' | 'community-mismatch' | 'missing-billing-quantity' | 'invalid-value' | 'duplicate-read-time' | 'seq-reused' | 'future-read-time';

type Waiting = { gateway: GatewayRef; message: ReadingsMessage; resolve: () => void; reject: (error: Error) => void };
type Rejection = { gatewayId: string; topic: string; reason: RejectReason; detail: string; payload: string };

const MAX_PAYLOAD_CHARS = 4096;
/** meter_readings.value is numeric(20, 6): 14 digits before the point. */
const MAX_VALUE_MICRO = 10n ** 20n;

export class IngestClosedError extends Error {
  constructor() {
    super('The reading ingest is closed; the message was not stored and must be delivered again');
    this.name = 'IngestClosedError';
  }
}

/**
 * The cloud side of the meter loop: stores gateway readings exactly once with group commit. Concurrent
 * `handle` calls are collected for up to `maxDelayMs` or `maxBatchRows` and written in ONE transaction
 * (one INSERT ... ON CONFLICT DO NOTHING for the readings), and every waiting caller resolves when it
 * commits, so the MQTT layer can PUBACK only what is durable. While one batch is written the next one
 * collects, so the batch size follows the load. A failed batch (database down) rejects every caller in
 * it; nothing is acknowledged and the broker delivers again.
 *
 * A reading that cannot be stored as a meter reading (unknown meter, another community's meter, no
 * billing value, a second reading at the same time) is kept in ingest_rejections with its reason and
 * counted; the other readings of the message are stored as usual.
 *
 * @example
 * const ingest = createReadingIngest(deps, { maxBatchRows: 5000, maxDelayMs: 20 });
 * await ingest.handle({ communityId, gatewayId }, message); // committed: now PUBACK
 */
export function createReadingIngest(deps: AppDeps, options: ReadingIngestOptions = {}): ReadingIngest {
  const maxBatchRows = options.maxBatchRows ?? 5000;
  const maxDelayMs = options.maxDelayMs ?? 20;
  const laneCount = options.lanes ?? 2;
  if (!Number.isInteger(maxBatchRows) || maxBatchRows < 1) throw new RangeError(`maxBatchRows must be a positive integer, got ${maxBatchRows}`);
  if (!Number.isInteger(laneCount) || laneCount < 1 || laneCount > 64) throw new RangeError(`lanes must be an integer from 1 to 64, got ${laneCount}`);
  if (!Number.isFinite(maxDelayMs) || maxDelayMs < 0) throw new RangeError(`maxDelayMs must be 0 or more milliseconds, got ${maxDelayMs}`);

  const metrics = ingestMetrics(deps.metrics.registry);
  const directory = new MeterDirectory();
  const write = (batch: Waiting[]) => writeBatch(deps, directory, metrics, batch);
  const lanes = Array.from({ length: laneCount }, () => new GroupCommitLane(maxBatchRows, maxDelayMs, write));
  let closed = false;
  const flush = async () => {
    await Promise.all(lanes.map((lane) => lane.flush()));
  };
  return {
    handle(gateway, message) {
      if (closed) return Promise.reject(new IngestClosedError());
      return lanes[laneOf(gateway.gatewayId, laneCount)]!.add(gateway, message);
    },
    flush,
    async close() {
      closed = true;
      await flush();
    },
  };
}

/**
 * A gateway always uses the same lane: its meters' readings are then judged one batch after another,
 * never by two transactions that cannot see each other's rows.
 */
function laneOf(gatewayId: string, lanes: number): number {
  let hash = 0;
  for (let i = 0; i < gatewayId.length; i++) hash = (hash * 31 + gatewayId.charCodeAt(i)) | 0;
  return Math.abs(hash) % lanes;
}

/**
 * One group-commit queue: messages collect until `maxBatchRows` or `maxDelayMs`, then one write takes
 * them all. While a write runs the next batch collects, and starts as soon as the write ends: under
 * load the batch grows to what arrives during one commit, so the batch size follows the load.
 */
class GroupCommitLane {
  private pending: Waiting[] = [];
  private pendingRows = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | null = null;

  constructor(
    private readonly maxBatchRows: number,
    private readonly maxDelayMs: number,
    private readonly write: (batch: Waiting[]) => Promise<void>,
  ) {}

  add(gateway: GatewayRef, message: ReadingsMessage): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ gateway, message, resolve, reject });
      this.pendingRows += message.items.length;
      if (this.running) return;
      if (this.pendingRows >= this.maxBatchRows || this.maxDelayMs === 0) this.start();
      else this.timer ??= setTimeout(() => this.start(), this.maxDelayMs);
    });
  }

  async flush(): Promise<void> {
    while (this.running || this.pending.length > 0) {
      if (!this.running) this.start();
      await this.running;
    }
  }

  private start(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0 || this.running) return;
    let rows = 0;
    let take = 0;
    while (take < this.pending.length && (take === 0 || rows + this.pending[take]!.message.items.length <= this.maxBatchRows)) {
      rows += this.pending[take++]!.message.items.length;
    }
    const batch = this.pending.slice(0, take);
    this.pending = this.pending.slice(take);
    this.pendingRows -= rows;
    this.running = this.write(batch).finally(() => {
      this.running = null;
      // Whatever arrived during the write has waited long enough: write it now.
      if (this.pending.length > 0) this.start();
    });
  }
}

/** Writes one batch and settles its callers. Never rejects: a failure goes to the callers. */
async function writeBatch(deps: AppDeps, directory: MeterDirectory, metrics: IngestMetrics, batch: Waiting[]): Promise<void> {
  try {
    const receivedAt = deps.now();
    const outcome = await deps.db.transaction((tx) => writeInTransaction(tx, directory, batch, receivedAt));
    const committedMs = Date.now();
    if (outcome.inserted.length > 0) metrics.ingested.inc({ source: 'gateway' }, outcome.inserted.length);
    for (const r of outcome.inserted) {
      metrics.lag.observe(Math.max(0, committedMs - r.atMs) / 1000);
      for (const a of r.anomalies) metrics.anomalies.inc({ anomaly: a });
    }
    if (outcome.redelivered > 0) metrics.duplicates.inc(outcome.redelivered);
    for (const r of outcome.rejections) metrics.rejected.inc({ reason: r.reason });
    if (outcome.rejections.length > 0) {
      deps.log.warn({ rejected: outcome.rejections.length, reasons: [...new Set(outcome.rejections.map((r) => r.reason))] }, 'meter readings rejected');
    }
    for (const w of batch) w.resolve();
  } catch (error) {
    // The directory may hold what a rolled-back transaction read; start clean on the retry.
    directory.clear();
    deps.log.error({ err: error, messages: batch.length }, 'meter reading batch not stored; the gateways will deliver it again');
    const failure = error instanceof Error ? error : new Error(String(error));
    for (const w of batch) w.reject(failure);
  }
}

async function writeInTransaction(tx: Database, directory: MeterDirectory, batch: Waiting[], receivedAt: Date) {
  // Before routing: a meter replacement in one of these communities either finished (and is seen below)
  // or waits for this batch to commit. Sorted, so two batches take their locks in the same order.
  for (const communityId of [...new Set(batch.map((w) => w.gateway.communityId))].sort()) await lockMeterRouting(tx, communityId, 'shared');
  const keys = batch.flatMap((w) => w.message.items.map((item) => ({ gatewayId: w.gateway.gatewayId, deviceId: item.meterId })));
  const candidates = await directory.resolve(tx, keys);
  const rows: NewReading[] = [];
  const rejections: Rejection[] = [];
  const highest = new Map<string, number>();
  const topicOf = new Map<string, string>();

  for (const { gateway, message } of batch) {
    const topic = topicOf.get(gateway.gatewayId) ?? topics.uplink(gateway, 'readings');
    topicOf.set(gateway.gatewayId, topic);
    for (const item of message.items) {
      highest.set(gateway.gatewayId, Math.max(highest.get(gateway.gatewayId) ?? 0, item.seq));
      const reject = (reason: RejectReason, detail: string) =>
        rejections.push({ gatewayId: gateway.gatewayId, topic, reason, detail, payload: JSON.stringify(item).slice(0, MAX_PAYLOAD_CHARS) });
      const atMs = Date.parse(item.readAt);
      const meter = meterAt(candidates.get(deviceKey(gateway.gatewayId, item.meterId)) ?? [], atMs);
      if (!meter) {
        reject('unknown-meter', `no meter is registered on this gateway as device "${item.meterId}"`);
        continue;
      }
      if (meter.communityId !== gateway.communityId) {
        reject('community-mismatch', `meter ${meter.id} belongs to community ${meter.communityId}, the gateway to ${gateway.communityId}`);
        continue;
      }
      const billing = item.values[meter.billingQuantity];
      if (!billing) {
        reject('missing-billing-quantity', `the reading has no "${meter.billingQuantity}" (has ${Object.keys(item.values).join(', ')})`);
        continue;
      }
      const micro = microOrNull(billing.value);
      if (micro === null || Number.isNaN(atMs)) {
        reject('invalid-value', `${meter.billingQuantity} "${billing.value}" or readAt "${item.readAt}" cannot be read`);
        continue;
      }
      // A gateway whose clock jumped ahead would make its reading the meter's "latest" and judge every
      // real one after it as going backwards: kept aside instead, with the gateway's claim.
      if (atMs > receivedAt.getTime() + FUTURE_SKEW_MS) {
        reject('future-read-time', `readAt ${item.readAt} is more than ${FUTURE_SKEW_MS / 60_000} min ahead of the cloud's clock; is the gateway's clock right?`);
        continue;
      }
      if (micro < 0n || micro >= MAX_VALUE_MICRO) {
        reject('invalid-value', `${meter.billingQuantity} ${billing.value} is outside 0 to 10^14 (a cumulative counter, numeric(20, 6))`);
        continue;
      }
      rows.push(gatewayReading(meter, gateway.gatewayId, item, atMs, billing.value, micro));
    }
  }

  const { inserted, duplicates } = await storeReadings(tx, rows, receivedAt);
  const redelivered = await splitDuplicates(tx, duplicates, topicOf, rejections);
  await keepRejections(tx, rejections);
  if (highest.size > 0) {
    const json = JSON.stringify([...highest].map(([id, seq]) => ({ id, seq })));
    await tx.execute(sql`
      update ${gateways} as g set highest_seq = greatest(g.highest_seq, h.seq)
      from json_to_recordset(${json}::json) as h(id uuid, seq bigint) where g.id = h.id and g.highest_seq < h.seq`);
  }
  return { inserted, rejections, redelivered };
}

/** A malformed value must not fail the whole batch (and so every message in it, forever): it is rejected. */
function microOrNull(value: string): bigint | null {
  try {
    return toMicro(value);
  } catch {
    return null;
  }
}

function gatewayReading(meter: NewReading['meter'], gatewayId: string, item: MeterReading, atMs: number, value: string, micro: bigint): NewReading {
  return { meter, atMs, value, micro, values: item.values, source: 'gateway', gatewayId, gatewaySeq: item.seq, enteredBy: null };
}

/**
 * A duplicate whose (gateway, sequence) is already stored with the same meter, read time and value is a
 * redelivery: nothing to do. Stored with anything else, the gateway has used that sequence number twice
 * (its outbox was lost or copied: a new SD card, a data folder restored from a backup) and this reading
 * would vanish behind the old one, so it is kept as a `seq-reused` rejection and logged. A duplicate whose
 * sequence is not stored collided on (meter, read time) with another reading; it is kept as a rejection.
 */
async function splitDuplicates(tx: Database, duplicates: NewReading[], topicOf: Map<string, string>, rejections: Rejection[]): Promise<number> {
  if (duplicates.length === 0) return 0;
  const json = JSON.stringify(duplicates.map((d) => ({ g: d.gatewayId, s: d.gatewaySeq })));
  const stored = new Map(
    rowsOf<{ k: string; meter: string; at: string; micro: string }>(
      await tx.execute(sql`
        select gateway_id::text || '#' || gateway_seq::text as k, meter_id::text as meter,
               (date_part('epoch', read_at) * 1000)::bigint::text as at, (value * 1000000)::bigint::text as micro
        from ${meterReadings}
        where (gateway_id, gateway_seq) in (select d.g, d.s from json_to_recordset(${json}::json) as d(g uuid, s bigint))`),
    ).map((r) => [r.k, r]),
  );
  let redelivered = 0;
  for (const d of duplicates) {
    const same = stored.get(`${d.gatewayId}#${d.gatewaySeq}`);
    const payload = JSON.stringify({ seq: d.gatewaySeq, meterId: d.meter.deviceId, readAt: new Date(d.atMs).toISOString(), values: d.values }).slice(0, MAX_PAYLOAD_CHARS);
    if (same && same.meter === d.meter.id && Number(same.at) === d.atMs && BigInt(same.micro) === d.micro) redelivered++;
    else if (same) {
      rejections.push({
        gatewayId: d.gatewayId!,
        topic: topicOf.get(d.gatewayId!)!,
        reason: 'seq-reused',
        detail: `gateway sequence ${d.gatewaySeq} is already stored for another reading (meter ${same.meter} at ${new Date(Number(same.at)).toISOString()}); was the gateway's outbox reset?`,
        payload,
      });
    } else {
      rejections.push({
        gatewayId: d.gatewayId!,
        topic: topicOf.get(d.gatewayId!)!,
        reason: 'duplicate-read-time',
        detail: `meter ${d.meter.id} already has a reading at ${new Date(d.atMs).toISOString()}`,
        payload,
      });
    }
  }
  return redelivered;
}

/**
 * Writes rejections, skipping any already kept for the same gateway and payload in the last week, so
 * a redelivered message does not list the same bad reading twice.
 */
async function keepRejections(tx: Database, rejections: Rejection[]): Promise<void> {
  if (rejections.length === 0) return;
  const json = JSON.stringify(rejections.map((r) => ({ gateway_id: r.gatewayId, topic: r.topic, reason: r.reason, detail: r.detail, payload: r.payload })));
  await tx.execute(sql`
    insert into ${ingestRejections} (topic, gateway_id, reason, detail, payload)
    select distinct r.topic, r.gateway_id, r.reason, r.detail, r.payload
    from json_to_recordset(${json}::json) as r(topic text, gateway_id uuid, reason text, detail text, payload text)
    where not exists (
      select 1 from ${ingestRejections} x
      where x.gateway_id = r.gateway_id and x.payload = r.payload and x.received_at > now() - interval '7 days')`);
}
