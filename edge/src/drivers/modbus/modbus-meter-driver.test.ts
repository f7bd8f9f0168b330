import net from 'node:net';
import { ManualClock, startMeterServer, type MeterServer } from '@estate/firmware-sims';
import { METER_MODELS } from '@estate/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { ModbusMeterDriver, type ModbusDriverOptions } from './modbus-meter-driver.js';
import { modbusConfig, Recorder, valuesOnly } from './test-helpers.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function sim(meters: { unitId: number; model: string }[], clock = new ManualClock(), port = 0): Promise<MeterServer> {
  const server = await startMeterServer({ transport: 'tcp', port, clock }, meters);
  cleanup.push(() => server.close());
  return server;
}

async function driverFor(port: number, meters: Parameters<typeof modbusConfig>[1], options: Partial<ModbusDriverOptions> = {}) {
  const rec = new Recorder();
  const driver = new ModbusMeterDriver({
    config: modbusConfig({ transport: 'tcp', port }, meters),
    onReading: rec.onReading,
    onAvailability: rec.onAvailability,
    onPoll: rec.onPoll,
    reconnect: { initialMs: 50, maxMs: 200 },
    ...options,
  });
  cleanup.push(() => driver.stop());
  await driver.start();
  return { driver, rec };
}

const THREE = [
  { id: 'e-tou', unitId: 1, model: 'DTSY-TOU' },
  { id: 'w-1', unitId: 2, model: 'LXSY-RS485' },
  { id: 'e-666', unitId: 3, model: 'DDSU666' },
];

describe('ModbusMeterDriver over Modbus TCP', () => {
  it('delivers readings that decode to exactly what each meter holds', async () => {
    const server = await sim(THREE);
    const { driver, rec } = await driverFor(server.port!, THREE, { pollIntervalMs: 50 });
    for (const m of THREE) {
      const reading = await rec.nextReading(m.id);
      expect(valuesOnly(reading)).toEqual(server.values(m.unitId));
      const model = METER_MODELS.get(m.model)!;
      for (const point of model.points) expect(reading.values[point.quantity]?.unit).toBe(point.unit);
      expect(Date.parse(reading.readAt)).toBeGreaterThan(Date.now() - 10_000);
    }
    expect(Number(server.values(1)['energy_import'])).toBeGreaterThan(0);
    expect(driver.status()).toEqual({ status: 'running', devices: 3, unavailable: 0, lastError: null });
    // DDSU666 needs two requests (8192.. and 16384..), the others one each.
    expect(rec.polls.find((p) => p.meterId === 'e-666')?.registers).toBe(18);
  });

  it('answers readNow with a fresh reading', async () => {
    const server = await sim(THREE);
    const { driver, rec } = await driverFor(server.port!, THREE.map((m) => ({ ...m, pollSeconds: 900 })));
    await rec.until('bus connected', () => driver.status().status === 'running');
    const reading = await driver.readNow('w-1');
    expect(valuesOnly(reading)).toEqual(server.values(2));
    expect(rec.readingsOf('w-1')).toContainEqual(reading);
    await expect(driver.readNow('nope')).rejects.toThrow(/no meter "nope"/);
  });

  it('marks a meter that stops answering unavailable, then available again once the fault clears', async () => {
    const server = await sim(THREE);
    const { driver, rec } = await driverFor(server.port!, THREE.map((m) => ({ ...m, timeoutMs: 100, retries: 1 })), {
      pollIntervalMs: 50,
      failuresBeforeUnavailable: 2,
      unavailableBackoff: { initialMs: 200, maxMs: 400 },
    });
    await rec.nextReading('w-1');
    server.setFault(2, 'timeout');
    await rec.until('w-1 unavailable', () => rec.availability.some((a) => a.deviceId === 'w-1' && !a.available));
    expect(driver.status()).toMatchObject({ status: 'degraded', unavailable: 1 });
    expect(driver.status().lastError).toMatch(/no answer within 100 ms/);
    const failures = rec.polls.filter((p) => p.meterId === 'w-1' && !p.ok);
    expect(failures.length).toBeGreaterThanOrEqual(2);
    await expect(driver.readNow('w-1')).rejects.toThrow(/did not answer/);
    server.setFault(2, null);
    await rec.until('w-1 available again', () => rec.availability.at(-1)?.deviceId === 'w-1' && rec.availability.at(-1)?.available === true, 5000);
    const reading = await rec.nextReading('w-1');
    expect(valuesOnly(reading)).toEqual(server.values(2));
    expect(driver.status()).toMatchObject({ status: 'running', unavailable: 0 });
  });

  it('counts exception answers, does not retry them, and marks the meter unavailable after N', async () => {
    const server = await sim(THREE);
    const { rec } = await driverFor(server.port!, THREE.map((m) => ({ ...m, retries: 2 })), {
      pollIntervalMs: 30,
      failuresBeforeUnavailable: 3,
      unavailableBackoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    await rec.nextReading('e-tou');
    const before = server.stats.exceptions;
    server.setFault(1, { kind: 'exception', code: 0x02 });
    await rec.until('e-tou unavailable', () => rec.availability.some((a) => a.deviceId === 'e-tou' && !a.available));
    const failed = rec.polls.filter((p) => p.meterId === 'e-tou' && !p.ok);
    expect(failed).toHaveLength(3);
    expect(failed[0]?.error).toMatch(/exception 0x02 \(illegal data address\)/);
    // One request per failed poll: 0x02 is the meter's considered answer (Application Protocol 7).
    expect(server.stats.exceptions - before).toBe(3);
    expect(rec.availability.find((a) => !a.available)?.reason).toMatch(/3 polls failed/);

    server.setFault(3, { kind: 'exception', code: 0x04 });
    await rec.until('e-666 unavailable', () => rec.availability.some((a) => a.deviceId === 'e-666' && !a.available));
    expect(rec.polls.filter((p) => p.meterId === 'e-666' && !p.ok)[0]?.error).toMatch(/0x04 \(server device failure\)/);
    const w1 = rec.readingsOf('w-1').length;
    await rec.nextReading('w-1', 3);
    expect(rec.readingsOf('w-1').length).toBeGreaterThan(w1);
  });

  it('survives garbage on the wire and reads the meter again once it is clean', async () => {
    const server = await sim(THREE);
    const { driver, rec } = await driverFor(server.port!, THREE.map((m) => ({ ...m, timeoutMs: 150, retries: 1 })), {
      pollIntervalMs: 30,
      failuresBeforeUnavailable: 3,
      unavailableBackoff: { initialMs: 200, maxMs: 200 },
    });
    await rec.nextReading('e-tou');
    server.setFault(1, 'garbage');
    await rec.until('e-tou unavailable', () => rec.availability.some((a) => a.deviceId === 'e-tou' && !a.available));
    expect(server.stats.garbage).toBeGreaterThanOrEqual(3);
    // The other meters on the bus kept reading through the noise.
    await rec.nextReading('e-666', 2);
    server.setFault(1, null);
    const reading = await rec.nextReading('e-tou', 1, 5000);
    expect(valuesOnly(reading)).toEqual(server.values(1));
    expect(driver.status().status).toBe('running');
  });

  it('delivers counters as the meter says through rollback, replacement and rollover', async () => {
    const clock = new ManualClock(Date.UTC(2025, 5, 1, 10));
    const server = await sim(THREE, clock);
    const { rec } = await driverFor(server.port!, THREE, { pollIntervalMs: 20 });
    const read = async (id: string, unitId: number) => {
      const expected = server.values(unitId);
      await rec.until(`${id} reading ${JSON.stringify(expected)}`, () => {
        const last = rec.readingsOf(id).at(-1);
        return last !== undefined && JSON.stringify(valuesOnly(last)) === JSON.stringify(expected);
      });
      return expected;
    };
    const start = await read('w-1', 2);
    clock.advance(6 * 3_600_000);
    const later = await read('w-1', 2);
    expect(Number(later['volume'])).toBeGreaterThan(Number(start['volume']));

    server.setFault(2, { kind: 'rollback', by: 1.5 });
    const back = await read('w-1', 2);
    expect(Number(back['volume'])).toBeCloseTo(Number(later['volume']) - 1.5, 2);

    server.setFault(1, 'replace');
    const replaced = await read('e-tou', 1);
    expect(Number(replaced['energy_import'])).toBeLessThan(1);

    server.setFault(1, 'rollover');
    const beforeWrap = await read('e-tou', 1);
    expect(Number(beforeWrap['energy_import'])).toBeGreaterThan(999_999);
    clock.advance(3 * 3_600_000);
    const wrapped = await read('e-tou', 1);
    expect(Number(wrapped['energy_import'])).toBeLessThan(10);
  });

  it('keeps the poll rate of the other meters on a bus with one dead meter', async () => {
    const meters = ['DTSY-TOU', 'LXSY-RS485', 'DDSU666', 'DTSY-TOU', 'LXSY-RS485'].map((model, i) => ({ id: `m-${i + 1}`, unitId: i + 1, model, pollSeconds: 1, timeoutMs: 300, retries: 2 }));
    const server = await sim(meters);
    server.setFault(3, 'timeout');
    const started = Date.now();
    const { driver, rec } = await driverFor(server.port!, meters);
    await rec.until('m-3 unavailable', () => rec.availability.some((a) => a.deviceId === 'm-3' && !a.available));
    // The dead meter cost the bus one 300 ms timeout per poll after its first (1 + 2 retries): ~1.5 s.
    expect(Date.now() - started).toBeLessThan(4000);
    const window = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 4000));
    for (const m of meters.filter((m) => m.id !== 'm-3')) {
      const inWindow = rec.readingsOf(m.id).filter((r) => Date.parse(r.readAt) >= window);
      expect(inWindow.length, `${m.id} readings in 4 s at 1/s`).toBeGreaterThanOrEqual(3);
    }
    expect(rec.polls.filter((p) => p.meterId === 'm-3').length).toBe(3);
    expect(driver.status()).toMatchObject({ status: 'degraded', devices: 5, unavailable: 1 });
  });

  it('reconnects a bus that cannot connect, without throwing, and marks its meters meanwhile', async () => {
    const port = await freePort();
    const { driver, rec } = await driverFor(port, THREE, { pollIntervalMs: 50 });
    await rec.until('meters unavailable', () => rec.availability.filter((a) => !a.available).length === 3);
    expect(driver.status()).toMatchObject({ status: 'failed', devices: 3, unavailable: 3 });
    expect(driver.status().lastError).toMatch(/ECONNREFUSED/);
    const server = await sim(THREE, new ManualClock(), port);
    const reading = await rec.nextReading('e-666', 1, 5000);
    expect(valuesOnly(reading)).toEqual(server.values(3));
    await rec.until('all available', () => driver.status().status === 'running', 5000);
    await server.close();
    await rec.until('unavailable after the server goes', () => driver.status().status === 'failed', 5000);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('a throwing poll observer', () => {
  it('does not stop the bus it observes', async () => {
    const bus = await startMeterServer({ transport: 'tcp', port: 0, host: '127.0.0.1' }, [{ unitId: 1, model: 'DTSY-TOU' }]);
    const readings: string[] = [];
    const driver = new ModbusMeterDriver({
      config: {
        buses: [{ id: 'b', transport: 'tcp', host: '127.0.0.1', port: bus.port! }],
        meters: [{ id: 'm1', bus: 'b', unitId: 1, model: 'DTSY-TOU', pollSeconds: 1, timeoutMs: 500, retries: 0 }],
      },
      onReading: (r) => readings.push(r.readAt),
      onPoll: () => {
        throw new Error('observer bug');
      },
      random: () => 0,
    });
    try {
      await driver.start();
      const deadline = Date.now() + 4000;
      while (readings.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(readings.length).toBeGreaterThanOrEqual(3);
      expect(driver.status().lastError).toMatch(/observer bug/);
    } finally {
      await driver.stop();
      await bus.close();
    }
  });
});
