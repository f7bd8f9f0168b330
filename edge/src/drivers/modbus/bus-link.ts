import { EventEmitter } from 'node:events';
import net from 'node:net';
import type { ModbusBus } from '@estate/protocol';
import { ModbusRTUClient, ModbusTCPClient } from 'jsmodbus';
import { SerialPort } from 'serialport';
import type { DriverLog } from '../driver.js';
import { ModbusRequestError, ResponseFramer } from './response-framer.js';

export type Backoff = { initialMs: number; maxMs: number };

/**
 * What one jsmodbus client sees as its socket: writes go to the bus, and the bus hands it only the one
 * validated response it waits for. A client is kept per unit while its requests succeed and replaced
 * after any failure, so no parser or queue state survives a bad exchange.
 */
class ClientPort extends EventEmitter {
  readonly isOpen = true;
  constructor(private readonly send: (frame: Buffer) => void) {
    super();
  }
  write(data: Buffer, callback?: (error?: Error | null) => void): boolean {
    this.send(data);
    callback?.(null);
    return true;
  }
}

type Active = { port: ClientPort; clientTransactionId: number; fail: (error: ModbusRequestError) => void };
type UnitClient = { port: ClientPort; client: ModbusTCPClient | ModbusRTUClient };

/**
 * One Modbus bus: a TCP connection or an RTU serial port, reconnected with backoff, carrying one request
 * at a time. RS-485 is half-duplex and a Modbus serial master has one transaction outstanding (Modbus over
 * Serial Line V1.02, 2.4.1); on TCP one request per connection at a time keeps a slow meter behind a
 * TCP gateway from piling up requests.
 */
export class BusLink {
  connected = false;
  lastError: string | null = null;
  private socket: net.Socket | SerialPort | null = null;
  private stopped = false;
  private busy = false;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly framer: ResponseFramer;
  private active: Active | null = null;
  private transactionId = 0;
  private lastTrafficAt = 0;
  private silenceTimer: NodeJS.Timeout | null = null;
  private waiters: (() => void)[] = [];
  private readonly clients = new Map<number, UnitClient>();

  constructor(
    readonly bus: ModbusBus,
    private readonly options: { log: DriverLog; reconnect: Backoff; random: () => number; onConnection: (connected: boolean, reason: string | null) => void },
  ) {
    this.framer = new ResponseFramer(bus.transport);
  }

  /** Silence between RTU frames: 3.5 character times, fixed at 1.75 ms above 19200 baud (Serial Line 2.5.1.1). */
  private get interFrameMs(): number {
    if (this.bus.transport !== 'rtu') return 0;
    return this.bus.baudRate > 19200 ? 1.75 : (3.5 * 11 * 1000) / this.bus.baudRate;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.active?.fail(new ModbusRequestError('offline', 'the driver is stopping'));
    this.wakeWaiters();
    const socket = this.socket;
    this.socket = null;
    if (socket instanceof SerialPort) {
      if (socket.isOpen) await new Promise<void>((resolve) => socket.close(() => resolve()));
    } else socket?.destroy();
  }

  /** Resolves when the bus is connected, or when the link stops. */
  waitConnected(): Promise<void> {
    if (this.connected || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wakeWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private connect(): void {
    if (this.stopped) return;
    const bus = this.bus;
    if (bus.transport === 'tcp') {
      const socket = net.createConnection({ host: bus.host, port: bus.port });
      this.socket = socket;
      socket.setTimeout(5000, () => socket.destroy(new Error('connect timed out after 5 s')));
      socket.once('connect', () => {
        socket.setTimeout(0);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 10_000);
        this.onOpen();
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (error) => (this.lastError = `bus ${bus.id}: ${error.message}`));
      socket.once('close', () => this.onClose(socket));
    } else {
      const port = new SerialPort({ path: bus.path, baudRate: bus.baudRate, parity: bus.parity, dataBits: bus.dataBits, stopBits: bus.stopBits, autoOpen: false });
      this.socket = port;
      port.on('data', (chunk: Buffer) => this.onData(chunk));
      port.on('error', (error) => (this.lastError = `bus ${bus.id}: ${error.message}`));
      port.once('close', () => this.onClose(port));
      port.open((error) => {
        if (!error) return this.onOpen();
        this.lastError = `bus ${bus.id}: cannot open ${bus.path}: ${error.message}`;
        this.onClose(port);
      });
    }
  }

  private onOpen(): void {
    this.connected = true;
    this.attempt = 0;
    this.options.log.info('modbus bus connected', { bus: this.bus.id });
    this.options.onConnection(true, null);
    this.wakeWaiters();
  }

  private onClose(socket: net.Socket | SerialPort): void {
    if (socket !== this.socket) return;
    const wasConnected = this.connected;
    this.connected = false;
    this.socket = null;
    this.active?.fail(new ModbusRequestError('offline', `bus ${this.bus.id} connection closed`));
    if (this.stopped) return;
    const reason = this.lastError ?? `bus ${this.bus.id}: connection closed`;
    if (wasConnected || this.attempt === 0) this.options.onConnection(false, reason);
    const delay = Math.min(this.options.reconnect.maxMs, this.options.reconnect.initialMs * 2 ** this.attempt) * (0.8 + 0.4 * this.options.random());
    this.attempt++;
    this.options.log.warn('modbus bus down, reconnecting', { bus: this.bus.id, reason, delayMs: Math.round(delay) });
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private send(frame: Buffer): void {
    const socket = this.socket;
    if (!socket || !this.active) return;
    if (this.bus.transport === 'tcp') {
      // The bus, not each client, numbers transactions, so a late answer is recognisable. jsmodbus builds
      // a fresh payload per request, so it is renumbered in place.
      this.active.clientTransactionId = frame.readUInt16BE(0);
      this.transactionId = (this.transactionId + 1) & 0xffff;
      frame.writeUInt16BE(this.transactionId, 0);
      this.framer.setTransactionId(this.transactionId);
    }
    this.lastTrafficAt = performance.now();
    socket.write(frame);
  }

  private onData(chunk: Buffer): void {
    this.lastTrafficAt = performance.now();
    const active = this.active;
    if (!active) return; // nobody waits: an answer to a request given up on
    const result = this.framer.push(chunk);
    if (!result) {
      if (this.bus.transport === 'rtu' && this.framer.pendingBytes > 0) this.armSilence(active);
      return;
    }
    if ('error' in result) return active.fail(new ModbusRequestError('garbled', result.error));
    const frame = result.frame;
    // The received bytes are ours alone: give the client back the transaction id it numbered.
    if (this.bus.transport === 'tcp') frame.writeUInt16BE(active.clientTransactionId, 0);
    try {
      active.port.emit('data', frame);
    } catch (error) {
      active.fail(new ModbusRequestError('garbled', `unreadable response: ${(error as Error).message}`));
    }
  }

  /** Bytes followed by silence that hold no valid frame are noise: fail now rather than at the timeout. */
  private armSilence(active: Active): void {
    if (this.silenceTimer) clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => {
      if (this.active === active && this.framer.pendingBytes > 0) active.fail(new ModbusRequestError('garbled', 'bytes on the line hold no valid response (bad CRC or noise)'));
    }, Math.max(50, this.interFrameMs * 10));
  }

  /**
   * Reads `count` registers from one unit. One request at a time: the caller (the bus scheduler) waits
   * for each to settle before the next.
   */
  async read(unitId: number, table: 'holding' | 'input', start: number, count: number, timeoutMs: number): Promise<number[]> {
    if (!this.connected || !this.socket) throw new ModbusRequestError('offline', `bus ${this.bus.id} is not connected`);
    if (this.busy) throw new Error(`bus ${this.bus.id} already has a request in flight`);
    this.busy = true;
    const wait = this.interFrameMs - (performance.now() - this.lastTrafficAt);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
    if (!this.connected || !this.socket) {
      this.busy = false;
      throw new ModbusRequestError('offline', `bus ${this.bus.id} is not connected`);
    }
    const fc = table === 'holding' ? 0x03 : 0x04;
    let fail!: (error: ModbusRequestError) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    const unit = this.clients.get(unitId) ?? this.newClient(unitId, timeoutMs);
    this.clients.delete(unitId); // back only after a clean exchange
    const { port, client } = unit;
    this.active = { port, clientTransactionId: 0, fail };
    this.framer.begin({ unitId, fc, count, transactionId: null });
    try {
      const request = table === 'holding' ? client.readHoldingRegisters(start, count) : client.readInputRegisters(start, count);
      request.catch(() => undefined); // settled by `failed` instead when the bus fails first
      const { response } = await Promise.race([request, failed]);
      const values = Array.from(response.body.valuesAsArray as ArrayLike<number>);
      if (values.length !== count) throw new ModbusRequestError('garbled', `${values.length} registers in answer to ${count}`);
      this.clients.set(unitId, unit);
      return values;
    } catch (error) {
      port.removeAllListeners();
      throw toRequestError(error, unitId, timeoutMs);
    } finally {
      if (this.silenceTimer) clearTimeout(this.silenceTimer);
      this.active = null;
      this.framer.end();
      this.busy = false;
    }
  }

  private newClient(unitId: number, timeoutMs: number): UnitClient {
    const port = new ClientPort((frame) => this.send(frame));
    const client =
      this.bus.transport === 'tcp' ? new ModbusTCPClient(port as unknown as net.Socket, unitId, timeoutMs) : new ModbusRTUClient(port as unknown as SerialPort, unitId, timeoutMs);
    if (this.bus.transport === 'tcp') port.emit('connect'); // jsmodbus's TCP client goes online on 'connect'
    return { port, client };
  }
}

const EXCEPTION_NAMES: Record<number, string> = {
  1: 'illegal function',
  2: 'illegal data address',
  3: 'illegal data value',
  4: 'server device failure',
  5: 'acknowledge',
  6: 'server device busy',
  10: 'gateway path unavailable',
  11: 'gateway target device failed to respond',
};

/** jsmodbus rejects with `{ err, message, response }`; this names the failure the driver acts on. */
function toRequestError(error: unknown, unitId: number, timeoutMs: number): ModbusRequestError {
  if (error instanceof ModbusRequestError) return error;
  const e = error as { err?: string; message?: string; response?: { body?: { code?: number } } };
  if (e.err === 'Timeout') return new ModbusRequestError('timeout', `unit ${unitId}: no answer within ${timeoutMs} ms`);
  if (e.err === 'ModbusException') {
    const code = e.response?.body?.code ?? 0;
    return new ModbusRequestError('exception', `unit ${unitId}: exception 0x${code.toString(16).padStart(2, '0')} (${EXCEPTION_NAMES[code] ?? 'unknown'})`, code);
  }
  if (e.err === 'Offline') return new ModbusRequestError('offline', `unit ${unitId}: ${e.message ?? 'offline'}`);
  return new ModbusRequestError('garbled', `unit ${unitId}: ${e.message ?? String(error)}`);
}
