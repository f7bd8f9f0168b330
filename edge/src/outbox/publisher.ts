import { MAX_PAYLOAD_BYTES, UPLINK_CHANNELS, encodePayload, topics, type GatewayAddress, type UplinkChannel } from '@estate/protocol';
import { errorText, type Logger } from '../log.js';
import type { Outbox, OutboxRecord } from './outbox.js';

/** What the publisher needs of the link; CloudLink provides it. */
export interface UplinkTransport {
  isConnected(): boolean;
  publish(topic: string, payload: string): Promise<void>;
  on(event: 'up' | 'down', listener: () => void): unknown;
  off(event: 'up' | 'down', listener: () => void): unknown;
}

export type PublisherOptions = {
  batchSize: number;
  messagesPerSecond: number;
  /** QoS 1 messages awaiting PUBACK at once; MQTT keeps them in order on one topic ([MQTT-4.6.0-2]). */
  maxInFlight?: number;
};

/**
 * Channels a person is waiting on (a command's result, a door's access record): sent before any backlog
 * and not paced. Pacing exists so a day's replay of readings cannot flood the cloud; these are few.
 */
const INTERACTIVE: ReadonlySet<UplinkChannel> = new Set(['results', 'access']);

function noneSent(): Record<UplinkChannel, number> {
  return Object.fromEntries(UPLINK_CHANNELS.map((c) => [c, 0])) as Record<UplinkChannel, number>;
}

const ENVELOPE = '{"v":1,"gatewayId":"","sentAt":"2000-01-01T00:00:00.000Z","items":[]}';

/**
 * Drains the outbox over the link: the oldest records first, batched per channel into protocol batch
 * messages (`{ v, gatewayId, sentAt, items }`, at most `batchSize` items and MAX_PAYLOAD_BYTES), at most
 * `messagesPerSecond` messages, and deletes a batch's records only on its PUBACK ([MQTT-4.3.2-1]).
 *
 * In flight is tracked per connection: when the link drops, whatever was sent but not acknowledged is
 * simply read again from the outbox after the next CONNACK and re-sent with the same seqs. A duplicate
 * (PUBACK lost on the way back) is possible and harmless: the cloud ingests idempotently on (gateway, seq).
 */
export class OutboxPublisher {
  private options: Required<PublisherOptions>;
  private epoch = 0;
  private sentUpTo = noneSent();
  private inFlight = 0;
  private nextSlotAt = 0;
  private running = false;
  private stopped = true;
  private wake: (() => void) | null = null;
  private transport: UplinkTransport | null = null;
  private readonly onUp = () => this.resume();
  private readonly onDown = () => this.reset();
  private readonly onChange = () => this.poke();

  constructor(
    private readonly outbox: Outbox,
    private readonly gateway: GatewayAddress,
    options: PublisherOptions,
    private readonly log: Logger,
  ) {
    this.options = { maxInFlight: 8, ...options };
  }

  setOptions(options: PublisherOptions): void {
    this.options = { maxInFlight: 8, ...options };
  }

  start(transport: UplinkTransport): void {
    this.stop();
    this.transport = transport;
    this.stopped = false;
    transport.on('up', this.onUp);
    transport.on('down', this.onDown);
    this.outbox.on('appended', this.onChange);
    this.resume();
  }

  stop(): void {
    this.stopped = true;
    this.transport?.off('up', this.onUp);
    this.transport?.off('down', this.onDown);
    this.outbox.off('appended', this.onChange);
    this.transport = null;
    this.reset();
  }

  private reset(): void {
    this.epoch += 1;
    this.sentUpTo = noneSent();
    this.inFlight = 0;
    this.poke();
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  private pause(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? null : setTimeout(() => this.poke(), ms);
      this.wake = () => {
        if (timer) clearTimeout(timer);
        resolve();
      };
    });
  }

  private resume(): void {
    if (this.running) return this.poke();
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped && this.transport?.isConnected()) {
      if (this.inFlight >= this.options.maxInFlight) {
        await this.pause();
        continue;
      }
      const batch = this.nextBatch();
      if (!batch) {
        await this.pause();
        continue;
      }
      if (!INTERACTIVE.has(batch.channel)) {
        const wait = this.nextSlotAt - Date.now();
        if (wait > 0) {
          await this.pause(wait);
          continue;
        }
        // Evenly spaced, no burst: at most messagesPerSecond (+1 at a window's edge) in any second.
        this.nextSlotAt = Math.max(this.nextSlotAt, Date.now()) + 1000 / this.options.messagesPerSecond;
      }
      this.send(batch.channel, batch.records);
    }
  }

  /**
   * The next channel to send and as many of its records as fit one message: interactive channels first
   * (someone is waiting at a door), then the channel whose oldest unsent record is oldest.
   */
  private nextBatch(): { channel: UplinkChannel; records: OutboxRecord[] } | null {
    let best: { channel: UplinkChannel; first: number; interactive: boolean } | null = null;
    for (const channel of UPLINK_CHANNELS) {
      const [first] = this.outbox.read(channel, this.sentUpTo[channel], 1);
      if (!first) continue;
      const interactive = INTERACTIVE.has(channel);
      if (!best || (interactive && !best.interactive) || (interactive === best.interactive && first.seq < best.first)) best = { channel, first: first.seq, interactive };
    }
    if (!best) return null;
    const records: OutboxRecord[] = [];
    let bytes = Buffer.byteLength(ENVELOPE) + this.gateway.gatewayId.length;
    for (const record of this.outbox.read(best.channel, this.sentUpTo[best.channel], this.options.batchSize)) {
      const size = Buffer.byteLength(record.json) + 1;
      if (records.length > 0 && bytes + size > MAX_PAYLOAD_BYTES) break;
      records.push(record);
      bytes += size;
    }
    return { channel: best.channel, records };
  }

  private send(channel: UplinkChannel, records: OutboxRecord[]): void {
    const transport = this.transport!;
    const epoch = this.epoch;
    const seqs = records.map((r) => r.seq);
    this.sentUpTo[channel] = seqs.at(-1)!;
    this.inFlight += 1;
    const base = { v: 1 as const, gatewayId: this.gateway.gatewayId, sentAt: new Date().toISOString() };
    const items = records.map((r) => JSON.parse(r.json) as never);
    const payload = encodePayload(`up/${channel}`, { ...base, items });
    transport.publish(topics.uplink(this.gateway, channel), payload).then(
      () => {
        // A PUBACK is proof whatever connection it came on: the records can go.
        this.outbox.remove(channel, seqs);
        if (epoch !== this.epoch) return;
        this.inFlight -= 1;
        this.poke();
      },
      (error: unknown) => {
        if (epoch !== this.epoch) return;
        // Not connected any more, or the client refused: read them again after the next CONNACK.
        this.log.warn('uplink publish failed; records stay in the outbox', { channel, firstSeq: seqs[0], count: seqs.length, error: errorText(error) });
        this.inFlight -= 1;
        this.sentUpTo[channel] = Math.min(this.sentUpTo[channel], seqs[0]! - 1);
        this.poke();
      },
    );
  }
}
