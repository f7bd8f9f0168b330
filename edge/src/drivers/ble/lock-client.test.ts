import { SimRadio, type SimLock, type SimLockOptions } from '@estate/firmware-sims';
import type { GattCentral, GattConnection } from '@estate/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createLockClient, LockError, type LockClient, type LockClientOptions, type LockNotification } from './lock-client.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function secretFor(n: number): Uint8Array {
  return Uint8Array.from({ length: 16 }, (_, i) => (n * 31 + i) & 0xff);
}

function addressFor(n: number): string {
  return `C0:FF:EE:00:00:${n.toString(16).padStart(2, '0').toUpperCase()}`;
}

function newRadio(): SimRadio {
  const radio = new SimRadio();
  cleanup.push(() => radio.close());
  return radio;
}

function lockOn(radio: SimRadio, n = 1, options: Partial<SimLockOptions> = {}): SimLock {
  return radio.addLock({ address: addressFor(n), secret: secretFor(n), autoRelockMs: 100, ...options });
}

function clientFor(central: GattCentral, n = 1, options: LockClientOptions = {}, secret = secretFor(n)): LockClient {
  const client = createLockClient(central, { id: `door-${n}`, address: addressFor(n), secret }, { connectTimeoutMs: 500, commandTimeoutMs: 1000, ...options });
  cleanup.push(() => client.close());
  return client;
}

async function failure(promise: Promise<unknown>): Promise<LockError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LockError);
  return error as LockError;
}

/** A central that counts writes in flight per lock, to prove a client never overlaps two requests. */
function watchedCentral(inner: GattCentral) {
  const inFlight = new Map<string, number>();
  let mostAtOnce = 0;
  const central: GattCentral = {
    close: () => inner.close(),
    async connect(address, options) {
      const connection = await inner.connect(address, options);
      const watched: GattConnection = Object.create(connection) as GattConnection;
      watched.write = async (characteristic, value) => {
        const now = (inFlight.get(address) ?? 0) + 1;
        inFlight.set(address, now);
        mostAtOnce = Math.max(mostAtOnce, now);
        try {
          await connection.write(characteristic, value);
        } finally {
          inFlight.set(address, (inFlight.get(address) ?? 1) - 1);
        }
      };
      return watched;
    },
  };
  return { central, mostAtOnce: () => mostAtOnce };
}

describe('LockClient against simulated locks', () => {
  it('unlocks the door: the lock counts an unlock and the door-opened report reaches the listener', async () => {
    const radio = newRadio();
    const lock = lockOn(radio, 1, { battery: 81 });
    const client = clientFor(radio.central());
    const notifications: LockNotification[] = [];
    client.onNotification((n) => notifications.push(n));
    const closed = lock.nextEvent('door-closed');

    const status = await client.unlock(4000);
    expect(status).toEqual({ battery: 81, locked: false, doorOpen: false, tamper: false, jammed: false });
    expect(lock.unlocks).toBe(1);
    expect(client.isWarm()).toBe(true);
    await closed;
    await expect.poll(() => notifications.map((n) => n.kind)).toEqual(['door-opened', 'door-closed']);
    expect(notifications[0]).toMatchObject({ kind: 'door-opened', status: { doorOpen: true, locked: false } });
    expect(notifications[1]).toMatchObject({ kind: 'door-closed', status: { doorOpen: false, locked: true } });
    expect(notifications[0]!.at).toBeInstanceOf(Date);
    expect(await client.status()).toMatchObject({ locked: true, doorOpen: false });
    expect(await client.battery()).toBe(81);
  });

  it('keeps one warm connection across five unlocks', async () => {
    const radio = newRadio();
    const lock = lockOn(radio);
    const client = clientFor(radio.central());
    for (let i = 0; i < 5; i++) await client.unlock();
    expect(lock.unlocks).toBe(5);
    expect(lock.connections).toBe(1);
    expect(lock.events.filter((e) => e.kind === 'authenticated')).toHaveLength(1);
  });

  it('says jammed when the bolt does not move, and keeps the link', async () => {
    const radio = newRadio();
    const lock = lockOn(radio, 1, { faults: ['jam'] });
    const client = clientFor(radio.central());
    const jams: LockNotification[] = [];
    client.onNotification((n) => jams.push(n));
    const error = await failure(client.unlock());
    expect(error.code).toBe('jammed');
    expect(error.message).toMatch(/door-1 is jammed/);
    expect(error.status).toMatchObject({ jammed: true, locked: true });
    expect(lock.unlocks).toBe(0);
    await expect.poll(() => jams.map((n) => n.kind)).toEqual(['jam']);
    expect(client.isWarm()).toBe(true);
    lock.setFault('jam', false);
    expect(await client.unlock()).toMatchObject({ locked: false, jammed: false });
    expect(lock.connections).toBe(1);
  });

  it('says low-battery when the motor cannot be driven', async () => {
    const radio = newRadio();
    lockOn(radio, 1, { faults: ['low-battery'] });
    const client = clientFor(radio.central());
    const error = await failure(client.unlock());
    expect(error).toMatchObject({ code: 'low-battery', message: expect.stringMatching(/3 %.*replace the batteries/) });
  });

  it('says out-of-range quickly for a lock that is not heard', async () => {
    const radio = newRadio();
    lockOn(radio, 1, { faults: ['out-of-range'] });
    const client = clientFor(radio.central(), 1, { connectTimeoutMs: 150 });
    const started = Date.now();
    const error = await failure(client.unlock());
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.code).toBe('out-of-range');
    expect(error.message).toMatch(/door-1 is out of range.*150 ms/);
    expect((await failure(clientFor(radio.central(), 9, { connectTimeoutMs: 50 }).status())).code).toBe('out-of-range');
  });

  it('says auth-failed when lock and gateway hold different secrets, both ways', async () => {
    const radio = newRadio();
    const lock = lockOn(radio, 1, { faults: ['wrong-secret'] });
    const error = await failure(clientFor(radio.central()).unlock());
    expect(error.code).toBe('auth-failed');
    expect(error.message).toMatch(/could not prove it holds our secret/);
    expect(lock.unlocks).toBe(0);

    // A gateway with a stale secret: the lock's proof fails the same way, and nothing unlocks.
    lock.setFault('wrong-secret', false);
    const stale = clientFor(radio.central(), 1, {}, secretFor(2));
    expect((await failure(stale.unlock())).code).toBe('auth-failed');
    expect(lock.unlocks).toBe(0);
    expect(stale.isWarm()).toBe(false);
  });

  it('spends the lock latency: a cold unlock pays connect and handshake, a warm one only its request', async () => {
    const radio = newRadio();
    lockOn(radio, 1, { latencyMs: 25 });
    const client = clientFor(radio.central());
    let started = Date.now();
    await client.unlock();
    const cold = Date.now() - started;
    started = Date.now();
    await client.status();
    const warm = Date.now() - started;
    // Cold: connect, CCCD, HELLO, 2 CHALLENGE fragments, AUTH, AUTH_OK, UNLOCK, 2 RESULT fragments = 10 operations.
    expect(cold).toBeGreaterThanOrEqual(10 * 25 - 10);
    // Warm: STATUS and 2 RESULT fragments (a DOOR_OPENED may be ahead on the air).
    expect(warm).toBeGreaterThanOrEqual(3 * 25 - 10);
    expect(warm).toBeLessThan(cold);
  });

  it('reconnects after the link dropped while idle', async () => {
    const radio = newRadio();
    const lock = lockOn(radio);
    const client = clientFor(radio.central());
    await client.status();
    lock.setFault('out-of-range', true);
    expect(client.isWarm()).toBe(false);
    lock.setFault('out-of-range', false);
    await client.unlock();
    expect(lock.connections).toBe(2);
    expect(lock.unlocks).toBe(1);
  });

  it('retries once, transparently, when a warm link drops in the middle of an operation', async () => {
    const radio = newRadio();
    const lock = lockOn(radio, 1, { latencyMs: 20 });
    const client = clientFor(radio.central());
    await client.status();
    const unlocking = client.unlock();
    setTimeout(() => {
      lock.setFault('out-of-range', true);
      lock.setFault('out-of-range', false);
    }, 5);
    expect(await unlocking).toMatchObject({ locked: false });
    expect(lock.connections).toBe(2);
    expect(lock.unlocks).toBe(1);
  });

  it('stays usable after a timeout: the next call reconnects', async () => {
    const radio = newRadio();
    let stalled = false;
    const lock = lockOn(radio, 1, { latencyMs: () => (stalled ? 400 : 0) });
    const client = clientFor(radio.central(), 1, { commandTimeoutMs: 100 });
    await client.status();
    stalled = true;
    const error = await failure(client.unlock());
    expect(error.code).toBe('timeout');
    expect(error.message).toMatch(/did not answer UNLOCK within 100 ms/);
    expect(client.isWarm()).toBe(false);
    stalled = false;
    expect(await client.status()).toMatchObject({ battery: 90 });
    expect(lock.connections).toBe(2);
  });

  it('runs 20 unlocks on 5 locks at once, one request at a time per lock', async () => {
    const radio = newRadio();
    const locks = [1, 2, 3, 4, 5].map((n) => lockOn(radio, n, { latencyMs: () => 1 + Math.floor(Math.random() * 4) }));
    const { central, mostAtOnce } = watchedCentral(radio.central());
    const clients = locks.map((_, i) => clientFor(central, i + 1));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => clients[i % 5]!.unlock(1000)));
    expect(results).toHaveLength(20);
    expect(results.every((s) => !s.jammed)).toBe(true);
    for (const lock of locks) {
      expect(lock.unlocks).toBe(4);
      expect(lock.connections).toBe(1);
      expect(lock.refusedFrames).toBe(0);
    }
    expect(mostAtOnce()).toBe(1);
  });

  it('delivers a tamper report while warm, and isolates a listener that throws', async () => {
    const radio = newRadio();
    const lock = lockOn(radio);
    const client = clientFor(radio.central());
    const seen: LockNotification[] = [];
    client.onNotification(() => {
      throw new Error('a broken listener');
    });
    const off = client.onNotification((n) => seen.push(n));
    await client.status();
    lock.triggerTamper();
    await expect.poll(() => seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ kind: 'tamper', status: { tamper: true } });
    off();
    lock.setBattery(10);
    await client.status();
    expect(seen).toHaveLength(1);
  });

  it('lets go of an idle lock after idleDisconnectMs', async () => {
    const radio = newRadio();
    const lock = lockOn(radio);
    const client = clientFor(radio.central(), 1, { idleDisconnectMs: 60 });
    await client.status();
    expect(client.isWarm()).toBe(true);
    await lock.nextEvent('disconnected', 1000);
    expect(client.isWarm()).toBe(false);
    await client.status();
    expect(lock.connections).toBe(2);
  });

  it('waits for the operation in progress on close, then refuses more', async () => {
    const radio = newRadio();
    const lock = lockOn(radio, 1, { latencyMs: 10 });
    const client = clientFor(radio.central());
    const unlocking = client.unlock();
    await client.close();
    await expect(unlocking).resolves.toMatchObject({ locked: false });
    expect(lock.events.at(-1)?.kind).toBe('disconnected');
    expect((await failure(client.status())).code).toBe('disconnected');
  });

  it('refuses a holdMs a u16 cannot carry', async () => {
    const client = clientFor(newRadio().central());
    await expect(client.unlock(70_000)).rejects.toThrow(RangeError);
  });
});
