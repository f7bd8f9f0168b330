import {
  LOCK_GATT,
  LOCK_PROTOCOL_VERSION,
  LOCK_SECRET_BYTES,
  LockMessageReassembler,
  LockProtocolError,
  LockSession,
  decodeLockFrame,
  encodeLockInfo,
  encodePlainLockFrame,
  fragmentLockMessage,
  gatewayAuthProof,
  lockHelloProof,
  lockNonce,
  lockSessionKey,
  proofMatches,
  type DecodedLockFrame,
  type LockNotificationType,
  type LockResultCode,
  type LockStatusReport,
  type PlainLockMessage,
  type SecureLockMessage,
} from '@estate/protocol';

/**
 * A door lock's firmware, speaking protocol/src/doors/lock-gatt.ts byte for byte: it reassembles the
 * gateway's fragments, checks CRCs, the handshake proofs, every MAC and counter with the protocol module's
 * own decoders, and refuses replays. It reaches a gateway only through SimRadio (sim-radio.ts), which
 * carries ATT values of at most 20 bytes with the lock's latency.
 *
 * The mechanics are a simple mortise lock with a door sensor: an UNLOCK retracts the bolt; if someone
 * walks through (autoRelockMs set) the door opens at once and swings shut autoRelockMs later, and the bolt
 * throws again as it closes; if nobody does, the bolt throws again after holdMs.
 */
export const LOCK_FAULTS = ['jam', 'out-of-range', 'wrong-secret', 'low-battery'] as const;
export type LockFault = (typeof LOCK_FAULTS)[number];

export type SimLockOptions = {
  /** "AA:BB:CC:DD:EE:FF"; matched case-insensitively. */
  address: string;
  /** The 16-byte secret provisioned at install, shared with the gateway. */
  secret: Uint8Array;
  /** 0-100 %, default 90. */
  battery?: number;
  /** Per GATT operation (connect, write, read, subscribe, each notification); a function gives jitter. Default 0. */
  latencyMs?: number | (() => number);
  /** How long the door stands open after an unlock before it shuts and relocks; null = nobody walks through. Default 2000. */
  autoRelockMs?: number | null;
  /** The hold time an UNLOCK with holdMs 0 gets. Default 3000. */
  defaultHoldMs?: number;
  model?: string;
  firmware?: string;
  faults?: readonly LockFault[];
};

export type SimLockEventKind =
  | 'connected'
  | 'disconnected'
  | 'authenticated'
  | 'auth-failed'
  | 'unlocked'
  | 'relocked'
  | 'door-opened'
  | 'door-closed'
  | 'jammed'
  | 'low-battery'
  | 'tamper'
  | 'refused'
  | 'fault';

/** Something a person at the door, or the lock's own log, would notice. */
export type SimLockEvent = { at: Date; kind: SimLockEventKind; detail: string };

/** The radio's side of one connection, handed to the lock when a central connects. */
export interface SimLockLink {
  notify(characteristic: string, value: Uint8Array): void;
  drop(reason: string): void;
}

/** Below this the motor is not driven: an UNLOCK answers low-battery. */
const CRITICAL_BATTERY = 5;
/** Crossing below this sends BATTERY_LOW. */
const WARN_BATTERY = 20;
/** What the low-battery fault makes the battery read. */
const SAGGED_BATTERY = 3;

/**
 * One simulated lock. Create it with `radio.addLock(options)`.
 *
 * @example
 * const lock = radio.addLock({ address: 'C0:FF:EE:00:00:01', secret, autoRelockMs: 500 });
 * lock.setFault('jam', true);
 * await lock.nextEvent('jammed');
 */
export class SimLock {
  readonly address: string;
  unlocks = 0;
  authFailures = 0;
  connections = 0;
  /** Frames refused: bad fragments, CRC, MAC, replays, secure commands before a session. */
  refusedFrames = 0;
  readonly events: SimLockEvent[] = [];

  private readonly secret: Uint8Array;
  private battery: number;
  private readonly faults = new Set<LockFault>();
  private locked = true;
  private doorOpen = false;
  private tamper = false;
  private jammed = false;
  private readonly listeners = new Set<(event: SimLockEvent) => void>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private link: SimLockLink | null = null;
  private notifying = false;
  private readonly reassembler = new LockMessageReassembler();
  private handshake: { gatewayNonce: Uint8Array; lockNonce: Uint8Array } | null = null;
  private session: LockSession | null = null;

  constructor(private readonly options: SimLockOptions) {
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(options.address)) throw new Error(`lock address "${options.address}" is not like AA:BB:CC:DD:EE:FF`);
    if (options.secret.length !== LOCK_SECRET_BYTES) throw new Error(`lock ${options.address}: the secret must be ${LOCK_SECRET_BYTES} bytes, got ${options.secret.length}`);
    this.address = options.address.toUpperCase();
    this.secret = Uint8Array.from(options.secret);
    this.battery = checkBattery(options.battery ?? 90);
    for (const fault of options.faults ?? []) this.faults.add(fault);
  }

  /** What the lock's sensors say now. */
  status(): LockStatusReport {
    const battery = this.faults.has('low-battery') ? Math.min(this.battery, SAGGED_BATTERY) : this.battery;
    return { battery, locked: this.locked, doorOpen: this.doorOpen, tamper: this.tamper, jammed: this.jammed };
  }

  hasFault(fault: LockFault): boolean {
    return this.faults.has(fault);
  }

  /** Turns a fault on or off; `out-of-range` on drops a live link at once (a real one after the supervision timeout). */
  setFault(fault: LockFault, on: boolean): void {
    if (on === this.faults.has(fault)) return;
    if (on) this.faults.add(fault);
    else this.faults.delete(fault);
    this.record('fault', `${fault} ${on ? 'on' : 'off'}`);
    if (fault === 'out-of-range' && on) this.link?.drop('supervision timeout: the lock went out of range');
    if (fault === 'low-battery' && on) this.warnBattery();
  }

  setBattery(percent: number): void {
    const before = this.battery;
    this.battery = checkBattery(percent);
    if (before >= WARN_BATTERY && this.battery < WARN_BATTERY) this.warnBattery();
  }

  /** Someone forces the lock body: the tamper switch trips and stays set until clearTamper(). */
  triggerTamper(): void {
    this.tamper = true;
    this.record('tamper', 'tamper switch tripped');
    this.notifyGateway('tamper');
  }

  clearTamper(): void {
    this.tamper = false;
  }

  /** Someone leaves using the inside handle: the door opens, and shuts and relocks after autoRelockMs. */
  openDoorByHand(): void {
    this.locked = false;
    this.openDoor('opened by hand from inside');
  }

  /** Calls back with every event; returns the unsubscribe function. */
  onEvent(listener: (event: SimLockEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The next event of this kind (not one already in `events`). */
  nextEvent(kind: SimLockEventKind, timeoutMs = 5000): Promise<SimLockEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`lock ${this.address}: no ${kind} within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.onEvent((event) => {
        if (event.kind !== kind) return;
        clearTimeout(timer);
        off();
        resolve(event);
      });
    });
  }

  /** Stops the door and bolt timers (radio.removeLock and radio.close call it). */
  dispose(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  // ---- the radio's side ----

  /** Milliseconds the next GATT operation with this lock takes. */
  operationLatency(): number {
    const latency = this.options.latencyMs ?? 0;
    return Math.max(0, typeof latency === 'function' ? latency() : latency);
  }

  linkUp(link: SimLockLink): void {
    this.link = link;
    this.connections++;
    this.resetConnection();
    this.record('connected', `connection ${this.connections}`);
  }

  linkDown(reason: string): void {
    this.link = null;
    this.resetConnection();
    this.record('disconnected', reason);
  }

  /** The CCCD write: only `response` notifies. */
  enableNotifications(characteristic: string): void {
    if (characteristic !== LOCK_GATT.response) throw new Error(`${characteristic} does not notify`);
    this.notifying = true;
  }

  readCharacteristic(characteristic: string): Uint8Array {
    if (characteristic !== LOCK_GATT.info) throw new Error(`${characteristic} is not readable`);
    return encodeLockInfo({ protocol: LOCK_PROTOCOL_VERSION, firmware: this.options.firmware ?? '1.0.0', model: this.options.model ?? 'EL-200' });
  }

  /** One ATT value written to `control`. */
  receiveControl(value: Uint8Array): void {
    let bytes: Uint8Array | null;
    try {
      bytes = this.reassembler.push(value);
    } catch (error) {
      return this.refuse(0, 'bad-frame', error);
    }
    if (!bytes) return;
    let frame: DecodedLockFrame;
    try {
      frame = this.session ? this.session.open(bytes) : decodeLockFrame(bytes, null);
    } catch (error) {
      return this.refuse(error instanceof LockProtocolError ? (error.seq ?? 0) : 0, rejectCode(error), error);
    }
    if (frame.secure) this.onCommand(frame.seq, frame.message);
    else this.onHandshake(frame.seq, frame.message);
  }

  // ---- firmware ----

  private onHandshake(seq: number, message: PlainLockMessage): void {
    if (message.type === 'hello') {
      // A new HELLO starts over, ending any session on this link.
      this.session = null;
      const nonce = lockNonce();
      this.handshake = { gatewayNonce: message.gatewayNonce, lockNonce: nonce };
      const lockProof = lockHelloProof(this.secretInUse(), message.gatewayNonce, nonce);
      return this.sendPlain(seq, { type: 'challenge', lockNonce: nonce, lockProof });
    }
    if (message.type === 'auth') {
      const handshake = this.handshake;
      this.handshake = null;
      if (!handshake) return this.sendPlain(seq, { type: 'auth-fail', reason: 'no-challenge' });
      const expected = gatewayAuthProof(this.secretInUse(), handshake.lockNonce, handshake.gatewayNonce);
      if (!proofMatches(expected, message.proof)) {
        this.authFailures++;
        this.record('auth-failed', 'the gateway proof does not match our secret');
        return this.sendPlain(seq, { type: 'auth-fail', reason: 'wrong-proof' });
      }
      this.session = new LockSession('lock', lockSessionKey(this.secretInUse(), handshake.gatewayNonce, handshake.lockNonce));
      this.record('authenticated', 'session established');
      return this.sendPlain(seq, { type: 'auth-ok' });
    }
    this.refuse(seq, 'bad-request', new Error(`a gateway does not send ${message.type}`));
  }

  private onCommand(seq: number, message: SecureLockMessage): void {
    if (message.type === 'status' || message.type === 'battery') return this.answer(seq, 'ok');
    if (message.type !== 'unlock') return this.refuse(seq, 'bad-request', new Error(`a gateway does not send ${message.type}`));
    if (this.faults.has('jam')) {
      this.jammed = true;
      this.record('jammed', 'the bolt did not move');
      this.answer(seq, 'jammed');
      return this.notifyGateway('jam');
    }
    if (this.status().battery < CRITICAL_BATTERY) {
      this.record('low-battery', `battery ${this.status().battery} %: motor not driven`);
      this.answer(seq, 'low-battery');
      return this.notifyGateway('battery-low');
    }
    this.unlocks++;
    this.locked = false;
    this.jammed = false;
    this.record('unlocked', `unlock ${this.unlocks}`);
    this.answer(seq, 'ok');
    const autoRelockMs = this.options.autoRelockMs === undefined ? 2000 : this.options.autoRelockMs;
    if (autoRelockMs !== null) return this.openDoor('a person walked through');
    this.later(message.holdMs || (this.options.defaultHoldMs ?? 3000), () => {
      if (!this.doorOpen && !this.locked) this.relock();
    });
  }

  private openDoor(why: string): void {
    this.doorOpen = true;
    this.record('door-opened', why);
    this.notifyGateway('door-opened');
    this.later(this.options.autoRelockMs ?? this.options.defaultHoldMs ?? 3000, () => {
      this.doorOpen = false;
      this.record('door-closed', 'the door swung shut');
      this.relock();
      this.notifyGateway('door-closed');
    });
  }

  private relock(): void {
    this.locked = true;
    this.record('relocked', 'bolt thrown');
  }

  private warnBattery(): void {
    this.record('low-battery', `battery ${this.status().battery} %`);
    this.notifyGateway('battery-low');
  }

  private secretInUse(): Uint8Array {
    // As if the lock had been provisioned with another secret: every proof fails, both ways.
    return this.faults.has('wrong-secret') ? this.secret.map((b) => b ^ 0x5a) : this.secret;
  }

  private answer(seq: number, code: LockResultCode): void {
    this.sendSecure(seq, { type: 'result', code, status: this.status() });
  }

  /** Unsolicited: only over an authenticated link whose gateway enabled notifications; otherwise only logged. */
  private notifyGateway(type: LockNotificationType): void {
    if (this.session) this.sendSecure(0, { type, status: this.status() });
  }

  private refuse(seq: number, code: LockResultCode, error: unknown): void {
    this.refusedFrames++;
    this.record('refused', `${code}: ${error instanceof Error ? error.message : String(error)}`);
    this.sendPlain(seq, { type: 'reject', code });
  }

  private sendPlain(seq: number, message: PlainLockMessage): void {
    this.transmit(encodePlainLockFrame(seq, message));
  }

  private sendSecure(seq: number, message: SecureLockMessage): void {
    if (this.session) this.transmit(this.session.seal(seq, message));
  }

  private transmit(message: Uint8Array): void {
    if (!this.link || !this.notifying) return;
    for (const value of fragmentLockMessage(message)) this.link.notify(LOCK_GATT.response, value);
  }

  private resetConnection(): void {
    this.notifying = false;
    this.reassembler.reset();
    this.handshake = null;
    this.session = null;
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    timer.unref?.();
    this.timers.add(timer);
  }

  private record(kind: SimLockEventKind, detail: string): void {
    const event = { at: new Date(), kind, detail };
    this.events.push(event);
    for (const listener of this.listeners) listener(event);
  }
}

function checkBattery(percent: number): number {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new Error(`battery must be an integer 0-100, got ${percent}`);
  return percent;
}

/** What a REJECT says about bytes the lock could not accept. */
function rejectCode(error: unknown): LockResultCode {
  if (!(error instanceof LockProtocolError)) return 'bad-frame';
  switch (error.code) {
    case 'bad-mac':
      return 'bad-mac';
    case 'replayed':
      return 'replayed';
    case 'not-authenticated':
      return 'not-authenticated';
    case 'wrong-direction':
      return 'bad-request';
    default:
      return 'bad-frame';
  }
}
