import { ManualClock, openPtyPair, startMeterServer } from '@estate/firmware-sims';
import { afterEach, describe, expect, it } from 'vitest';
import { ModbusMeterDriver } from './modbus-meter-driver.js';
import { modbusConfig, Recorder, valuesOnly } from './test-helpers.js';

// RTU over a pseudo-terminal pair made by socat (Debian: apt-get install -y socat): the simulated bus
// serves on one end, the driver is the master on the other, with real RTU framing and CRC.
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const METERS = [
  { id: 'rtu-e', unitId: 5, model: 'DTSY-TOU', timeoutMs: 300, retries: 1 },
  { id: 'rtu-w', unitId: 9, model: 'LXSY-RS485', timeoutMs: 300, retries: 1 },
  { id: 'rtu-f', unitId: 17, model: 'DDSU666', timeoutMs: 300, retries: 1 },
];

async function rtuBus() {
  const pty = await openPtyPair();
  cleanup.push(() => pty.close());
  const server = await startMeterServer({ transport: 'rtu', path: pty.a, baudRate: 19200, clock: new ManualClock() }, METERS);
  cleanup.push(() => server.close());
  const rec = new Recorder();
  const driver = new ModbusMeterDriver({
    config: modbusConfig({ transport: 'rtu', path: pty.b, baudRate: 19200 }, METERS),
    onReading: rec.onReading,
    onAvailability: rec.onAvailability,
    onPoll: rec.onPoll,
    pollIntervalMs: 50,
    failuresBeforeUnavailable: 2,
    unavailableBackoff: { initialMs: 300, maxMs: 300 },
  });
  cleanup.push(() => driver.stop());
  await driver.start();
  return { server, driver, rec };
}

describe('ModbusMeterDriver over Modbus RTU on a pty pair', () => {
  it('reads every meter on the bus with correct framing and CRC', async () => {
    const { server, driver, rec } = await rtuBus();
    for (const m of METERS) expect(valuesOnly(await rec.nextReading(m.id, 2))).toEqual(server.values(m.unitId));
    expect(driver.status()).toEqual({ status: 'running', devices: 3, unavailable: 0, lastError: null });
    expect(server.stats.exceptions).toBe(0);
  });

  it('rejects frames with a bad CRC, marks the meter unavailable, and keeps reading the others', async () => {
    const { server, rec } = await rtuBus();
    await rec.nextReading('rtu-w');
    server.setFault(9, 'garbage');
    await rec.until('rtu-w unavailable', () => rec.availability.some((a) => a.deviceId === 'rtu-w' && !a.available));
    expect(rec.polls.filter((p) => p.meterId === 'rtu-w' && !p.ok).every((p) => /CRC|noise|no answer/.test(p.error ?? ''))).toBe(true);
    await rec.nextReading('rtu-e', 2);
    server.setFault(9, null);
    expect(valuesOnly(await rec.nextReading('rtu-w', 1, 5000))).toEqual(server.values(9));
  });

  it('survives a silent meter and an exception on the same bus', async () => {
    const { server, driver, rec } = await rtuBus();
    await rec.nextReading('rtu-f');
    server.setFault(5, 'timeout');
    server.setFault(9, { kind: 'exception', code: 0x04 });
    await rec.until('two unavailable', () => driver.status().unavailable === 2);
    const before = rec.readingsOf('rtu-f').length;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(rec.readingsOf('rtu-f').length - before).toBeGreaterThanOrEqual(3);
  });
});
