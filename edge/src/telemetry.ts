import type { GatewayHealth } from '@estate/protocol';
import type { DriverHost } from './drivers/host.js';
import { errorText, type Logger } from './log.js';
import { OutboxFullError, type Outbox } from './outbox/outbox.js';

/** The gateway's health as protocol's GatewayHealth, without the seq the outbox assigns. */
export function gatewayHealth(input: {
  version: string;
  startedAt: number;
  outbox: Outbox;
  drivers: DriverHost;
  commands: () => { duplicates: number; rejected: Record<string, number> };
}): Omit<GatewayHealth, 'seq'> {
  const stats = input.outbox.stats();
  const commands = input.commands();
  return {
    at: new Date().toISOString(),
    version: input.version,
    uptimeSeconds: Math.round((Date.now() - input.startedAt) / 1000),
    rssBytes: process.memoryUsage.rss(),
    outbox: {
      depth: stats.depth,
      bytes: stats.bytes,
      quotaBytes: stats.quotaBytes,
      oldestSeq: stats.oldestSeq,
      alarm: stats.alarm,
      refused: Object.values(stats.refused).reduce((a, b) => a + b, 0),
    },
    commands: { rejected: Object.values(commands.rejected).reduce((a, b) => a + b, 0), duplicate: commands.duplicates },
    drivers: input.drivers.health(),
  };
}

/** Stores a health record in the outbox (channel `telemetry`) every `seconds`. */
export class HealthReporter {
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly snapshot: () => Omit<GatewayHealth, 'seq'>,
    private readonly outbox: Outbox,
    private readonly log: Logger,
  ) {}

  start(seconds: number): void {
    this.stop();
    this.timer = setInterval(() => this.report(), seconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  report(): number | null {
    try {
      return this.outbox.append('telemetry', this.snapshot());
    } catch (error) {
      // Telemetry is the first thing the quota gives up (counted in the outbox's stats).
      if (error instanceof OutboxFullError) this.log.warn('telemetry not stored: outbox full');
      else this.log.error('telemetry failed', { error: errorText(error) });
      return null;
    }
  }
}
