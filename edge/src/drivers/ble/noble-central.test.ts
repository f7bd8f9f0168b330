import { SimRadio } from '@estate/firmware-sims';
import { GattError, LOCK_GATT, type GattCentral } from '@estate/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeNoble, FakePeripheral } from './fake-noble.js';
import { createLockClient, type LockNotification } from './lock-client.js';
import { openNobleCentral } from './noble-central.js';

const SERVICE = LOCK_GATT.service.replaceAll('-', '');
const ADDRESS = 'C0:FF:EE:00:00:01';
const secret = Uint8Array.from({ length: 16 }, (_, i) => 0x40 + i);

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function gattError(promise: Promise<unknown>): Promise<GattError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GattError);
  return error as GattError;
}

/** A powered-on fake controller, a SimRadio behind it, and a central opened on them. */
async function rig(options: { operationMs?: number } = {}) {
  const noble = new FakeNoble(options.operationMs);
  const radio = new SimRadio();
  cleanup.push(() => radio.close());
  setTimeout(() => noble.setState('poweredOn'), 5);
  const central = await openNobleCentral({ loadNoble: async () => ({ default: noble }), poweredOnTimeoutMs: 500, operationTimeoutMs: 500 });
  cleanup.push(() => central.close());
  const addLock = (address: string, services = [SERVICE]) => {
    radio.addLock({ address, secret, autoRelockMs: 50 });
    return noble.advertise(new FakePeripheral(noble, { address, services, radio }));
  };
  return { noble, radio, central, addLock };
}

describe('openNobleCentral without a usable controller', () => {
  it('explains a load failure such as EAFNOSUPPORT', async () => {
    const cause = Object.assign(new Error('EAFNOSUPPORT, Address family not supported by protocol'), { code: 'EAFNOSUPPORT' });
    const error = await gattError(openNobleCentral({ loadNoble: () => Promise.reject(cause) }));
    expect(error.code).toBe('no-adapter');
    expect(error.message).toMatch(/^no Bluetooth controller: .*\(EAFNOSUPPORT\)\. Is there an HCI adapter .* \(CAP_NET_RAW, or root\)\?$/);
  });

  it.each([
    ['unsupported', /does not support Bluetooth Low Energy/],
    ['unauthorized', /CAP_NET_RAW/],
    ['poweredOff', /powered off .*bluetoothctl power on/],
  ])('refuses a controller in state %s', async (state, message) => {
    const noble = new FakeNoble();
    setTimeout(() => noble.setState(state), 5);
    const error = await gattError(openNobleCentral({ loadNoble: async () => noble, poweredOnTimeoutMs: 1000 }));
    expect(error.code).toBe('no-adapter');
    expect(error.message).toMatch(message);
    expect(noble.listenerCount('stateChange')).toBe(0);
  });

  it('gives up when the controller never powers on, naming the state', async () => {
    const noble = new FakeNoble();
    const started = Date.now();
    const error = await gattError(openNobleCentral({ loadNoble: async () => noble, poweredOnTimeoutMs: 80 }));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toMatchObject({ code: 'no-adapter', message: expect.stringMatching(/did not power on within 80 ms \(state unknown\)/) });
  });

  it('refuses a module that is not noble', async () => {
    expect((await gattError(openNobleCentral({ loadNoble: async () => ({ default: {} }) }))).code).toBe('no-adapter');
  });

  it('fails cleanly with the real noble on this machine, which has no Bluetooth adapter', async () => {
    const started = Date.now();
    const error = await gattError(openNobleCentral({ poweredOnTimeoutMs: 2000 }));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error.code).toBe('no-adapter');
    // Loading noble throws EAFNOSUPPORT where the kernel has no Bluetooth sockets; elsewhere the controller is missing or down.
    expect(error.message).toMatch(/EAFNOSUPPORT|ENODEV|did not power on|powered off|unsupported|unauthorized/);
    expect(error.message).toMatch(/Bluetooth/);
  });
});

describe('NobleCentral on a fake controller', () => {
  it('scans for the lock service, stops scanning, then connects and discovers', async () => {
    const { noble, central, addLock } = await rig();
    noble.advertise(new FakePeripheral(noble, { address: 'AA:AA:AA:AA:AA:AA', services: [SERVICE] }));
    addLock(ADDRESS);
    const connection = await central.connect(ADDRESS.toLowerCase(), { timeoutMs: 500 });
    expect(connection.isConnected()).toBe(true);
    expect(noble.scanFilter).toEqual([SERVICE]);
    expect(noble.operations).toEqual(['startScanning', 'stopScanning', `connect ${ADDRESS.toLowerCase()}`, `discover ${ADDRESS.toLowerCase()}`]);
    expect(noble.violations).toEqual([]);
  });

  it('says out-of-range when the lock is not heard, and stops the scan', async () => {
    const { noble, central } = await rig();
    const started = Date.now();
    const error = await gattError(central.connect(ADDRESS, { timeoutMs: 60 }));
    expect(error).toMatchObject({ code: 'out-of-range', message: expect.stringMatching(/not heard within 60 ms/) });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(noble.scanning).toBe(false);
    expect(noble.operations).toEqual(['startScanning', 'stopScanning']);
  });

  it('cancels a connection the lock never completes, as out-of-range', async () => {
    const { noble, central } = await rig();
    const silent = noble.advertise(new FakePeripheral(noble, { address: ADDRESS, services: [SERVICE] }));
    const error = await gattError(central.connect(ADDRESS, { timeoutMs: 80 }));
    expect(error).toMatchObject({ code: 'out-of-range', message: expect.stringMatching(/heard but did not accept a connection/) });
    expect(silent.cancelled).toBe(1);
    // The radio is free again afterwards.
    await expect(central.connect('00:00:00:00:00:09', { timeoutMs: 30 })).rejects.toMatchObject({ code: 'out-of-range' });
  });

  it('says not-a-lock for a peripheral without the lock service, and lets it go', async () => {
    const { noble, radio, central } = await rig();
    radio.addLock({ address: ADDRESS, secret });
    // Advertises our service UUID but serves only the Battery Service.
    noble.advertise(new FakePeripheral(noble, { address: ADDRESS, services: [SERVICE], serves: ['180f'], radio }));
    const error = await gattError(central.connect(ADDRESS, { timeoutMs: 500 }));
    expect(error).toMatchObject({ code: 'not-a-lock', message: expect.stringMatching(/has no lock service/) });
    expect(noble.operations.at(-1)).toBe(`disconnect ${ADDRESS.toLowerCase()}`);
    expect(radio.lock(ADDRESS)!.events.at(-1)?.kind).toBe('disconnected');
  });

  it('never runs two radio operations at once, whatever the callers do', async () => {
    const { noble, central, addLock } = await rig({ operationMs: 3 });
    const addresses = ['C0:FF:EE:00:00:01', 'C0:FF:EE:00:00:02', 'C0:FF:EE:00:00:03'];
    for (const address of addresses) addLock(address);
    const connections = await Promise.all(addresses.map((address) => central.connect(address, { timeoutMs: 1000 })));
    await Promise.all(
      connections.flatMap((connection) => [
        connection.read(LOCK_GATT.info),
        connection.subscribe(LOCK_GATT.response, () => undefined),
        connection.write(LOCK_GATT.control, Uint8Array.of(0x80, 1, 2, 3, 4)),
        connection.read(LOCK_GATT.info),
      ]),
    );
    expect(noble.operations.filter((o) => o.startsWith('connect'))).toHaveLength(3);
    expect(noble.operations.length).toBeGreaterThan(20);
    expect(noble.violations).toEqual([]);
  });

  it('refuses a value over 20 bytes, reports a dropped link once, and fails later writes', async () => {
    const { radio, central, addLock } = await rig();
    addLock(ADDRESS);
    const connection = await central.connect(ADDRESS, { timeoutMs: 500 });
    expect((await gattError(connection.write(LOCK_GATT.control, new Uint8Array(21)))).code).toBe('gatt-error');
    const reasons: string[] = [];
    connection.onDisconnect((reason) => reasons.push(reason));
    radio.lock(ADDRESS)!.setFault('out-of-range', true);
    expect(reasons).toEqual(['connection timeout (out of range?)']);
    expect(connection.isConnected()).toBe(false);
    expect((await gattError(connection.write(LOCK_GATT.control, Uint8Array.of(0x80, 1)))).code).toBe('disconnected');
    await connection.disconnect();
    expect(reasons).toHaveLength(1);
  });

  it('stops scanning and disconnects everything on close', async () => {
    const { noble, radio, central, addLock } = await rig();
    addLock(ADDRESS);
    const connection = await central.connect(ADDRESS, { timeoutMs: 500 });
    const scanning = central.connect('00:00:00:00:00:07', { timeoutMs: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(noble.scanning).toBe(true);
    await central.close();
    expect((await gattError(scanning)).code).toBe('no-adapter');
    expect(noble.scanning).toBe(false);
    expect(connection.isConnected()).toBe(false);
    expect(radio.lock(ADDRESS)!.events.at(-1)?.kind).toBe('disconnected');
    expect((await gattError(central.connect(ADDRESS, { timeoutMs: 50 }))).code).toBe('no-adapter');
  });

  it('carries the lock client end to end: unlock, notifications, and a warm link', async () => {
    const { radio, central, addLock } = await rig({ operationMs: 1 });
    addLock(ADDRESS);
    const client = createLockClient(central as GattCentral, { id: 'door-1', address: ADDRESS, secret }, { connectTimeoutMs: 500 });
    cleanup.push(() => client.close());
    const seen: LockNotification[] = [];
    client.onNotification((n) => seen.push(n));
    expect(await client.unlock(2000)).toMatchObject({ locked: false });
    await expect.poll(() => seen.map((n) => n.kind)).toEqual(['door-opened', 'door-closed']);
    expect(await client.battery()).toBe(90);
    const lock = radio.lock(ADDRESS)!;
    expect(lock.unlocks).toBe(1);
    expect(lock.connections).toBe(1);
  });
});
