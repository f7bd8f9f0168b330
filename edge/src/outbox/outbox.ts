import { EventEmitter } from 'node:events';
import type { Database, RootDatabase } from 'lmdb';
import { MAX_PAYLOAD_BYTES, UPLINK_CHANNELS, type AccessRecord, type CommandResult, type GatewayHealth, type LockEvent, type MeterReading, type UplinkChannel } from '@estate/protocol';
import type { Logger } from '../log.js';

/** What each channel's records hold; `seq` is assigned by the outbox, never by the caller. */
export type OutboxItems = { readings: MeterReading; telemetry: GatewayHealth; results: CommandResult; access: AccessRecord; locks: LockEvent };
export type OutboxItemInput<C extends UplinkChannel> = Omit<OutboxItems[C], 'seq'>;

export type OutboxRecord = { channel: UplinkChannel; seq: number; json: string; bytes: number };

export type OutboxLimits = { quotaBytes: number; alarmRatio: number };

export type OutboxStats = {
  depth: number;
  bytes: number;
  quotaBytes: number;
  oldestSeq: number | null;
  alarm: boolean;
  byChannel: Record<UplinkChannel, { depth: number; bytes: number }>;
  /** Records refused because the quota was full, per channel, since start. */
  refused: Record<UplinkChannel, number>;
  /** Old telemetry deleted to make room, since start. */
  telemetryEvicted: number;
};

/** Bookkeeping a record costs beyond its JSON (key, LMDB node header), counted against the quota. */
const RECORD_OVERHEAD_BYTES = 48;
/** Room for the batch envelope around the items. */
const ENVELOPE_BYTES = 200;
const NEXT_SEQ = 'nextSeq';

/** A record that the quota has no room for. Readings get this only after every old telemetry is gone. */
export class OutboxFullError extends Error {
  constructor(
    readonly channel: UplinkChannel,
    readonly bytes: number,
    readonly quotaBytes: number,
  ) {
    super(`outbox full: ${channel} record of ${bytes} bytes refused (quota ${quotaBytes} bytes)`);
    this.name = 'OutboxFullError';
  }
}

/**
 * The durable outbox. Every uplink record is stored with the gateway's next sequence number in one LMDB
 * transaction, so a number is never handed out twice, even across kill -9: the counter and the record
 * commit together. Records leave only through `remove`, which the publisher calls on PUBACK.
 *
 * When the quota fills, in this order (documented in edge/README.md):
 * 1. from `alarmRatio` on, the alarm is raised (logged, and `alarm: true` in telemetry), and the outbox
 *    keeps only the newest telemetry snapshot: each new one evicts the older ones (counted);
 * 2. any other record (reading, result, access record, lock event) that does not fit evicts old telemetry first;
 * 3. if it still does not fit it is refused with OutboxFullError, counted and logged. Nothing already
 *    stored is ever dropped except telemetry.
 */
export class Outbox extends EventEmitter<{ appended: [UplinkChannel]; removed: [] }> {
  private readonly root: RootDatabase;
  private readonly meta: Database<number, string>;
  private readonly channels: Record<UplinkChannel, Database<string, number>>;
  private readonly counts: Record<UplinkChannel, { depth: number; bytes: number }>;
  private readonly refused = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, 0])) as Record<UplinkChannel, number>;
  private telemetryEvicted = 0;
  private limits: OutboxLimits;
  private alarm = false;
  private readonly log: Logger;

  constructor(root: RootDatabase, limits: OutboxLimits, log: Logger) {
    super();
    this.root = root;
    this.limits = limits;
    this.log = log;
    this.meta = root.openDB<number, string>({ name: 'outbox-meta' });
    this.channels = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, root.openDB<string, number>({ name: `outbox-${c}`, encoding: 'string' })])) as Outbox['channels'];
    this.counts = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, { depth: 0, bytes: 0 }])) as Outbox['counts'];
    for (const channel of UPLINK_CHANNELS) {
      for (const { value } of this.channels[channel].getRange({})) {
        this.counts[channel].depth += 1;
        this.counts[channel].bytes += Buffer.byteLength(value) + RECORD_OVERHEAD_BYTES;
      }
    }
    this.updateAlarm();
  }

  setLimits(limits: OutboxLimits): void {
    this.limits = limits;
    this.updateAlarm();
  }

  /**
   * Stores one record and returns its sequence number. `within` runs inside the same transaction (the
   * command journal marks a command answered there), so both commit or neither does.
   *
   * @throws OutboxFullError when the quota has no room (see the class comment for the order of refusal).
   * @example
   * const seq = outbox.append('readings', { meterId: 'm-1', readAt, values });
   */
  append<C extends UplinkChannel>(channel: C, item: OutboxItemInput<C>, within?: (seq: number) => void): number {
    const { seq, bytes, evicted } = this.root.transactionSync(() => {
      const seq = this.meta.get(NEXT_SEQ) ?? 1;
      const json = JSON.stringify({ seq, ...item });
      const bytes = Buffer.byteLength(json) + RECORD_OVERHEAD_BYTES;
      if (bytes + ENVELOPE_BYTES > MAX_PAYLOAD_BYTES) throw new Error(`a ${channel} record of ${bytes} bytes can never fit one message of ${MAX_PAYLOAD_BYTES} bytes`);
      const evicted = this.planRoom(channel, bytes);
      for (const record of evicted) this.channels.telemetry.removeSync(record.seq);
      this.channels[channel].putSync(seq, json);
      this.meta.putSync(NEXT_SEQ, seq + 1);
      within?.(seq);
      return { seq, bytes, evicted };
    });
    this.noteEvicted(evicted);
    this.counts[channel].depth += 1;
    this.counts[channel].bytes += bytes;
    this.updateAlarm();
    this.emit('appended', channel);
    return seq;
  }

  /** Up to `limit` records of a channel with seq > `afterSeq`, in sequence order. */
  read(channel: UplinkChannel, afterSeq: number, limit: number): OutboxRecord[] {
    const records: OutboxRecord[] = [];
    const pending = this.removing[channel];
    for (const { key, value } of this.channels[channel].getRange({ start: afterSeq + 1, limit: limit + pending.size })) {
      if (pending.has(key as number)) continue;
      records.push({ channel, seq: key as number, json: value, bytes: Buffer.byteLength(value) + RECORD_OVERHEAD_BYTES });
      if (records.length === limit) break;
    }
    return records;
  }

  /**
   * Deletes records the broker has acknowledged; unknown seqs (already evicted or removed) are ignored.
   *
   * The deletion does not wait for a disk flush: LMDB commits it on its writer thread, batched with the
   * others of this moment, and the records are treated as gone at once (not read, not counted). A crash
   * before that commit leaves them to be sent again after the restart, which the cloud's unique
   * (gateway, seq) keys make harmless. A synchronous commit here cost an fsync per acknowledged batch on
   * the event loop: at a busy door, as many as the opens themselves.
   */
  remove(channel: UplinkChannel, seqs: readonly number[]): void {
    const pending = this.removing[channel];
    const batch: number[] = [];
    let bytes = 0;
    for (const seq of seqs) {
      if (pending.has(seq)) continue;
      const json = this.channels[channel].get(seq);
      if (json === undefined) continue;
      pending.add(seq);
      batch.push(seq);
      bytes += Buffer.byteLength(json) + RECORD_OVERHEAD_BYTES;
    }
    if (batch.length === 0) return;
    const removals = batch.map((seq) => this.channels[channel].remove(seq));
    this.inFlightRemovals = Promise.all([this.inFlightRemovals, ...removals]).then(
      () => undefined,
      (error: unknown) => this.log.error('acknowledged records could not be deleted; they will be sent again', { channel, firstSeq: batch[0], error: String(error) }),
    );
    void Promise.allSettled(removals).then(() => {
      for (const seq of batch) pending.delete(seq);
    });
    this.counts[channel].depth -= batch.length;
    this.counts[channel].bytes -= bytes;
    this.updateAlarm();
    this.emit('removed');
  }

  /** Resolves once every deletion asked for so far is committed (before closing the store). */
  removalsCommitted(): Promise<void> {
    return this.inFlightRemovals;
  }

  private readonly removing = Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, new Set<number>()])) as Record<UplinkChannel, Set<number>>;
  private inFlightRemovals: Promise<void> = Promise.resolve();

  /** The next sequence number the outbox will assign (for tests and diagnostics). */
  nextSeq(): number {
    return this.meta.get(NEXT_SEQ) ?? 1;
  }

  stats(): OutboxStats {
    const firstKeys = UPLINK_CHANNELS.flatMap((c) => ([...this.channels[c].getKeys({ limit: this.removing[c].size + 1 })] as number[]).filter((k) => !this.removing[c].has(k)).slice(0, 1));
    const depth = UPLINK_CHANNELS.reduce((sum, c) => sum + this.counts[c].depth, 0);
    return {
      depth,
      bytes: this.totalBytes(),
      quotaBytes: this.limits.quotaBytes,
      oldestSeq: firstKeys.length > 0 ? Math.min(...firstKeys) : null,
      alarm: this.alarm,
      byChannel: Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, { ...this.counts[c] }])) as OutboxStats['byChannel'],
      refused: { ...this.refused },
      telemetryEvicted: this.telemetryEvicted,
    };
  }

  private totalBytes(): number {
    return UPLINK_CHANNELS.reduce((sum, c) => sum + this.counts[c].bytes, 0);
  }

  /**
   * Runs inside append's transaction and writes nothing itself: it decides which telemetry goes (see the
   * class comment) or throws, so a refusal leaves the store untouched.
   */
  private planRoom(channel: UplinkChannel, bytes: number): { seq: number; bytes: number }[] {
    const quota = this.limits.quotaBytes;
    const total = this.totalBytes();
    const evict: { seq: number; bytes: number }[] = [];
    let freed = 0;
    const overAlarm = channel === 'telemetry' && total + bytes > quota * this.limits.alarmRatio;
    for (const { key, value } of this.channels.telemetry.getRange({})) {
      if (!overAlarm && total - freed + bytes <= quota) break;
      if (this.removing.telemetry.has(key as number)) continue; // acknowledged, already left the counts
      const recordBytes = Buffer.byteLength(value) + RECORD_OVERHEAD_BYTES;
      evict.push({ seq: key as number, bytes: recordBytes });
      freed += recordBytes;
    }
    if (total - freed + bytes > quota) {
      this.refused[channel] += 1;
      throw new OutboxFullError(channel, bytes, quota);
    }
    return evict;
  }

  private noteEvicted(evicted: readonly { seq: number; bytes: number }[]): void {
    if (evicted.length === 0) return;
    for (const record of evicted) {
      this.counts.telemetry.depth -= 1;
      this.counts.telemetry.bytes -= record.bytes;
    }
    this.telemetryEvicted += evicted.length;
    this.log.warn('outbox above its alarm level: older telemetry evicted to keep readings', { evicted: evicted.length, firstSeq: evicted[0]?.seq, lastSeq: evicted.at(-1)?.seq });
  }

  private updateAlarm(): void {
    const alarm = this.totalBytes() >= this.limits.quotaBytes * this.limits.alarmRatio;
    if (alarm === this.alarm) return;
    this.alarm = alarm;
    const fields = { bytes: this.totalBytes(), quotaBytes: this.limits.quotaBytes, alarmRatio: this.limits.alarmRatio };
    if (alarm) this.log.error('outbox alarm: the outbox has reached its alarm level; the uplink is not draining it', fields);
    else this.log.info('outbox alarm cleared', fields);
  }
}
