import {
  GattError,
  LOCK_GATT,
  LockMessageReassembler,
  LockSession,
  decodeLockFrame,
  decodeLockInfo,
  encodePlainLockFrame,
  encodeSecureLockFrame,
  fragmentLockMessage,
  gatewayAuthProof,
  lockHelloProof,
  lockNonce,
  lockSessionKey,
  proofMatches,
  type GattConnection,
} from '@estate/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { SimRadio } from './sim-radio.js';

const secret = Uint8Array.from({ length: 16 }, (_, i) => 0x30 + i);
const ADDRESS = 'C0:FF:EE:00:00:01';
const radios: SimRadio[] = [];
afterEach(() => {
  for (const radio of radios.splice(0)) radio.close();
});

function newRadio(): SimRadio {
  const radio = new SimRadio();
  radios.push(radio);
  return radio;
}

/** A gateway written by hand from the protocol module, to check the lock byte by byte. */
async function rawGateway(radio: SimRadio, address = ADDRESS) {
  const connection = await radio.central().connect(address, { timeoutMs: 500 });
  const reassembler = new LockMessageReassembler();
  const inbox: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  await connection.subscribe(LOCK_GATT.response, (value) => {
    const message = reassembler.push(value);
    if (!message) return;
    inbox.push(message);
    wake?.();
  });
  let session: LockSession | null = null;
  const gateway = {
    connection,
    async send(bytes: Uint8Array): Promise<void> {
      for (const value of fragmentLockMessage(bytes)) await connection.write(LOCK_GATT.control, value);
    },
    async next(): Promise<Uint8Array> {
      for (let i = 0; i < 200 && inbox.length === 0; i++) await new Promise<void>((resolve) => ((wake = resolve), setTimeout(resolve, 10)));
      const message = inbox.shift();
      if (!message) throw new Error('the lock sent nothing');
      return message;
    },
    async nextFrame() {
      const bytes = await gateway.next();
      return session ? session.open(bytes) : decodeLockFrame(bytes, null);
    },
    /** HELLO, CHALLENGE (checked), AUTH; resolves with what the lock answered last. */
    async authenticate(withSecret = secret) {
      const gatewayNonce = lockNonce();
      await gateway.send(encodePlainLockFrame(1, { type: 'hello', gatewayNonce }));
      const challenge = await gateway.nextFrame();
      if (challenge.message.type !== 'challenge') throw new Error(`expected a challenge, got ${challenge.message.type}`);
      const { lockNonce: nonce, lockProof } = challenge.message;
      const lockIsGenuine = proofMatches(lockHelloProof(withSecret, gatewayNonce, nonce), lockProof);
      await gateway.send(encodePlainLockFrame(2, { type: 'auth', proof: gatewayAuthProof(withSecret, nonce, gatewayNonce) }));
      const answer = await gateway.nextFrame();
      if (answer.message.type === 'auth-ok') session = new LockSession('gateway', lockSessionKey(withSecret, gatewayNonce, nonce));
      return { lockIsGenuine, answer: answer.message, key: lockSessionKey(withSecret, gatewayNonce, nonce) };
    },
    session: () => session!,
  };
  return gateway;
}

describe('SimLock over SimRadio', () => {
  it('tells its model and firmware without authentication', async () => {
    const radio = newRadio();
    radio.addLock({ address: ADDRESS, secret, model: 'EL-300', firmware: '2.1.0' });
    const { connection } = await rawGateway(radio);
    expect(decodeLockInfo(await connection.read(LOCK_GATT.info))).toEqual({ protocol: 1, firmware: '2.1.0', model: 'EL-300' });
    await expect(connection.read(LOCK_GATT.control)).rejects.toThrow(/0x02 \(Read Not Permitted\)/);
  });

  it('authenticates, unlocks, and reports the door opening and closing', async () => {
    const radio = newRadio();
    const lock = radio.addLock({ address: ADDRESS, secret, battery: 77, autoRelockMs: 50 });
    const gateway = await rawGateway(radio);
    const auth = await gateway.authenticate();
    expect(auth).toMatchObject({ lockIsGenuine: true, answer: { type: 'auth-ok' } });

    await gateway.send(gateway.session().seal(3, { type: 'unlock', holdMs: 0 }));
    const result = await gateway.nextFrame();
    expect(result).toMatchObject({ seq: 3, secure: true, counter: 1, message: { type: 'result', code: 'ok', status: { battery: 77, locked: false } } });
    expect(await gateway.nextFrame()).toMatchObject({ seq: 0, counter: 2, message: { type: 'door-opened', status: { doorOpen: true } } });
    expect(await gateway.nextFrame()).toMatchObject({ counter: 3, message: { type: 'door-closed', status: { doorOpen: false, locked: true } } });
    expect(lock.unlocks).toBe(1);
    expect(lock.events.map((e) => e.kind)).toEqual(['connected', 'authenticated', 'unlocked', 'door-opened', 'door-closed', 'relocked']);
  });

  it('relocks after holdMs when nobody walks through', async () => {
    const radio = newRadio();
    const lock = radio.addLock({ address: ADDRESS, secret, autoRelockMs: null });
    const gateway = await rawGateway(radio);
    await gateway.authenticate();
    const relocked = lock.nextEvent('relocked');
    const started = Date.now();
    await gateway.send(gateway.session().seal(3, { type: 'unlock', holdMs: 80 }));
    await relocked;
    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
    expect(lock.status()).toMatchObject({ locked: true, doorOpen: false });
  });

  it('refuses a replayed UNLOCK and does not move the bolt again', async () => {
    const radio = newRadio();
    const lock = radio.addLock({ address: ADDRESS, secret, autoRelockMs: null });
    const gateway = await rawGateway(radio);
    await gateway.authenticate();
    const unlock = gateway.session().seal(3, { type: 'unlock', holdMs: 1000 });
    await gateway.send(unlock);
    expect((await gateway.nextFrame()).message).toMatchObject({ type: 'result', code: 'ok' });
    await gateway.send(unlock);
    expect(await gateway.nextFrame()).toEqual({ seq: 3, secure: false, message: { type: 'reject', code: 'replayed' } });
    expect(lock.unlocks).toBe(1);
    expect(lock.refusedFrames).toBe(1);
  });

  it('refuses a forged MAC, a command before authentication and a corrupted frame', async () => {
    const radio = newRadio();
    const lock = radio.addLock({ address: ADDRESS, secret });
    const gateway = await rawGateway(radio);
    const someKey = new Uint8Array(32);
    await gateway.send(encodeSecureLockFrame(4, 1, { type: 'unlock', holdMs: 1000 }, someKey));
    expect((await gateway.nextFrame()).message).toEqual({ type: 'reject', code: 'not-authenticated' });

    const { key } = await gateway.authenticate();
    await gateway.send(encodeSecureLockFrame(5, 9, { type: 'unlock', holdMs: 1000 }, key.map((b) => b ^ 1)));
    expect(await gateway.nextFrame()).toMatchObject({ seq: 5, message: { type: 'reject', code: 'bad-mac' } });

    const corrupted = gateway.session().seal(6, { type: 'status' });
    corrupted[4] = (corrupted[4] ?? 0) ^ 0xff;
    await gateway.send(corrupted);
    expect(await gateway.nextFrame()).toMatchObject({ seq: 6, message: { type: 'reject', code: 'bad-frame' } });
    await gateway.connection.write(LOCK_GATT.control, Uint8Array.of(0x05, 1, 2));
    expect((await gateway.nextFrame()).message).toEqual({ type: 'reject', code: 'bad-frame' });
    expect(lock.unlocks).toBe(0);
    expect(lock.refusedFrames).toBe(4);
  });

  it('with the wrong-secret fault, proves nothing and accepts no proof', async () => {
    const radio = newRadio();
    const lock = radio.addLock({ address: ADDRESS, secret, faults: ['wrong-secret'] });
    const gateway = await rawGateway(radio);
    const auth = await gateway.authenticate();
    expect(auth.lockIsGenuine).toBe(false);
    expect(auth.answer).toEqual({ type: 'auth-fail', reason: 'wrong-proof' });
    expect(lock.authFailures).toBe(1);
    lock.setFault('wrong-secret', false);
    expect((await gateway.authenticate()).answer).toEqual({ type: 'auth-ok' });
  });

  it('answers AUTH without a challenge with auth-fail', async () => {
    const radio = newRadio();
    radio.addLock({ address: ADDRESS, secret });
    const gateway = await rawGateway(radio);
    await gateway.send(encodePlainLockFrame(2, { type: 'auth', proof: new Uint8Array(16) }));
    expect((await gateway.nextFrame()).message).toEqual({ type: 'auth-fail', reason: 'no-challenge' });
  });

  it('answers jammed and low-battery, and notifies JAM, BATTERY_LOW and TAMPER', async () => {
    const radio = newRadio();
    const lock = radio.addLock({ address: ADDRESS, secret, battery: 60, faults: ['jam'] });
    const gateway = await rawGateway(radio);
    await gateway.authenticate();
    await gateway.send(gateway.session().seal(3, { type: 'unlock', holdMs: 0 }));
    expect((await gateway.nextFrame()).message).toMatchObject({ type: 'result', code: 'jammed', status: { jammed: true, locked: true } });
    expect((await gateway.nextFrame()).message).toMatchObject({ type: 'jam' });
    lock.setFault('jam', false);
    lock.setFault('low-battery', true);
    expect((await gateway.nextFrame()).message).toMatchObject({ type: 'battery-low', status: { battery: 3 } });
    await gateway.send(gateway.session().seal(4, { type: 'unlock', holdMs: 0 }));
    expect((await gateway.nextFrame()).message).toMatchObject({ type: 'result', code: 'low-battery' });
    expect((await gateway.nextFrame()).message).toMatchObject({ type: 'battery-low' });
    lock.triggerTamper();
    expect((await gateway.nextFrame()).message).toMatchObject({ type: 'tamper', status: { tamper: true } });
    expect(lock.unlocks).toBe(0);
  });

  it('refuses a write over 20 bytes as a real ATT server does', async () => {
    const radio = newRadio();
    radio.addLock({ address: ADDRESS, secret });
    const { connection } = await rawGateway(radio);
    const error = await connection.write(LOCK_GATT.control, new Uint8Array(21)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GattError);
    expect(error).toMatchObject({ code: 'gatt-error', message: expect.stringMatching(/0x0d \(Invalid Attribute Value Length\)/) });
  });
});

describe('SimRadio links', () => {
  it('takes one central at a time: a second one waits, and gets the lock when the first lets go', async () => {
    const radio = newRadio();
    const lock = radio.addLock({ address: ADDRESS, secret });
    const first = await radio.central().connect(ADDRESS.toLowerCase(), { timeoutMs: 100 });
    const refused = await radio
      .central()
      .connect(ADDRESS, { timeoutMs: 50 })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: 'out-of-range', message: expect.stringMatching(/not heard within 50 ms/) });
    const waiting = radio.central().connect(ADDRESS, { timeoutMs: 1000 });
    setTimeout(() => void first.disconnect(), 30);
    const second: GattConnection = await waiting;
    expect(second.isConnected()).toBe(true);
    expect(first.isConnected()).toBe(false);
    expect(lock.connections).toBe(2);
  });

  it('times out on an absent lock, and on one out of range', async () => {
    const radio = newRadio();
    const central = radio.central();
    await expect(central.connect('00:11:22:33:44:55', { timeoutMs: 30 })).rejects.toMatchObject({ code: 'out-of-range' });
    radio.addLock({ address: ADDRESS, secret, faults: ['out-of-range'] });
    const started = Date.now();
    await expect(central.connect(ADDRESS, { timeoutMs: 60 })).rejects.toMatchObject({ code: 'out-of-range' });
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('drops a live link when the lock goes out of range, telling the central once', async () => {
    const radio = newRadio();
    const lock = radio.addLock({ address: ADDRESS, secret });
    const connection = await radio.central().connect(ADDRESS, { timeoutMs: 100 });
    const reasons: string[] = [];
    connection.onDisconnect((reason) => reasons.push(reason));
    lock.setFault('out-of-range', true);
    expect(reasons).toEqual(['supervision timeout: the lock went out of range']);
    await expect(connection.write(LOCK_GATT.control, Uint8Array.of(0x80, 1))).rejects.toMatchObject({ code: 'disconnected' });
    await connection.disconnect();
    expect(reasons).toHaveLength(1);
  });

  it('spends the lock latency on each operation', async () => {
    const radio = newRadio();
    let calls = 0;
    radio.addLock({
      address: ADDRESS,
      secret,
      latencyMs: () => {
        calls++;
        return 40;
      },
    });
    const started = Date.now();
    const connection = await radio.central().connect(ADDRESS, { timeoutMs: 500 });
    await connection.read(LOCK_GATT.info);
    expect(Date.now() - started).toBeGreaterThanOrEqual(75);
    expect(calls).toBe(2);
  });

  it('closes a central and drops its links', async () => {
    const radio = newRadio();
    const lock = radio.addLock({ address: ADDRESS, secret });
    const central = radio.central();
    const connection = await central.connect(ADDRESS, { timeoutMs: 100 });
    await central.close();
    expect(connection.isConnected()).toBe(false);
    expect(lock.events.at(-1)).toMatchObject({ kind: 'disconnected' });
    await expect(central.connect(ADDRESS, { timeoutMs: 100 })).rejects.toMatchObject({ code: 'no-adapter' });
  });
});
