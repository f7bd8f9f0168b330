import { GatewayConfig, ModbusBus, MeterConfig } from '@estate/protocol';
import type { MeterAvailabilityChange, MeterReadingDraft, PollOutcome } from './modbus-meter-driver.js';

/** Test-only: a modbus config section from short meter descriptions, parsed with the protocol's schema. */
export function modbusConfig(
  bus: { transport: 'tcp'; port: number } | { transport: 'rtu'; path: string; baudRate?: number },
  meters: { id: string; unitId: number; model: string; pollSeconds?: number; timeoutMs?: number; retries?: number }[],
): GatewayConfig['modbus'] {
  const busConfig = ModbusBus.parse(bus.transport === 'tcp' ? { id: 'bus-1', transport: 'tcp', host: '127.0.0.1', port: bus.port } : { id: 'bus-1', ...bus });
  return { buses: [busConfig], meters: meters.map((m) => MeterConfig.parse({ bus: 'bus-1', pollSeconds: 1, ...m })) };
}

/** Test-only: collects what a driver reports, with waits that fail with a sentence instead of hanging. */
export class Recorder {
  readonly readings: MeterReadingDraft[] = [];
  readonly availability: MeterAvailabilityChange[] = [];
  readonly polls: PollOutcome[] = [];
  readonly onReading = (r: MeterReadingDraft) => void this.readings.push(r);
  readonly onAvailability = (a: MeterAvailabilityChange) => void this.availability.push(a);
  readonly onPoll = (p: PollOutcome) => void this.polls.push(p);

  readingsOf(meterId: string): MeterReadingDraft[] {
    return this.readings.filter((r) => r.meterId === meterId);
  }

  async until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Waits for `count` more readings of a meter than it has now, and returns the last. */
  async nextReading(meterId: string, count = 1, timeoutMs = 10_000): Promise<MeterReadingDraft> {
    const have = this.readingsOf(meterId).length;
    await this.until(`${count} more reading(s) of ${meterId}`, () => this.readingsOf(meterId).length >= have + count, timeoutMs);
    return this.readingsOf(meterId).at(-1)!;
  }
}

export const valuesOnly = (reading: MeterReadingDraft): Record<string, string> => Object.fromEntries(Object.entries(reading.values).map(([q, v]) => [q, v.value]));
