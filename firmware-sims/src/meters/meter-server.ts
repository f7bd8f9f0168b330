import net from 'node:net';
import { SerialPort } from 'serialport';
import { systemClock, type SimClock } from './clock.js';
import { exceptionPdu, readResponsePdu, takeRtuFrames, takeTcpFrames, tcpFrame, withCrc } from './modbus-wire.js';
import { EXCEPTION, SimulatedMeter, type MeterFault, type MeterFaultKind, type SimMeter } from './sim-meter.js';
import { unitNoise } from './consumption.js';

export type MeterServerTransport = { transport: 'tcp'; port?: number; host?: string } | { transport: 'rtu'; path: string; baudRate?: number };

export type MeterServerOptions = MeterServerTransport & {
  clock?: SimClock;
  /** Delay before each answer, as a meter's processing time; 0 by default. */
  latencyMs?: number;
};

export interface MeterServer {
  /** The TCP port listened on (a free one when asked for port 0), or null on RTU. */
  readonly port: number | null;
  readonly path: string | null;
  readonly meters: ReadonlyMap<number, SimulatedMeter>;
  /** Injects a fault into one meter, or clears it with null. */
  setFault(unitId: number, fault: MeterFault | MeterFaultKind | null): void;
  /** What a meter's registers say now, decoded as the gateway decodes them. */
  values(unitId: number): Record<string, string>;
  /** Requests answered, by outcome, for tests and the CLI. */
  readonly stats: { requests: number; answered: number; exceptions: number; silent: number; garbage: number };
  close(): Promise<void>;
}

/**
 * Starts one Modbus server answering for several meters: on TCP like a Modbus TCP gateway in front of an
 * RS-485 bus (the MBAP unit id picks the meter), on RTU like the bus itself (the address byte picks it).
 *
 * @example
 * const bus = await startMeterServer({ transport: 'tcp', port: 0 }, [{ unitId: 1, model: 'DTSY-TOU' }]);
 * bus.setFault(1, { kind: 'exception', code: 0x04 });
 * await bus.close();
 */
export async function startMeterServer(options: MeterServerOptions, specs: readonly SimMeter[]): Promise<MeterServer> {
  const clock = options.clock ?? systemClock;
  const meters = new Map<number, SimulatedMeter>();
  for (const spec of specs) {
    if (meters.has(spec.unitId)) throw new Error(`unit id ${spec.unitId} is given to two meters on one bus`);
    meters.set(spec.unitId, new SimulatedMeter(spec, clock));
  }
  const stats = { requests: 0, answered: 0, exceptions: 0, silent: 0, garbage: 0 };
  let garbageCount = 0;

  /** The response PDU for one request, null for silence, or raw garbage bytes to send instead of a frame. */
  function answer(unitId: number, pdu: Buffer, onTcp: boolean): { pdu: Buffer } | { garbage: Buffer } | null {
    stats.requests++;
    const meter = meters.get(unitId);
    const fc = pdu[0] ?? 0;
    if (!meter) {
      // Serial Line 2.1: only the addressed slave answers. A TCP gateway whose target does not answer says
      // so with exception 0x0B (Application Protocol 7).
      if (!onTcp || unitId === 0) return silent();
      stats.exceptions++;
      return { pdu: exceptionPdu(fc, 0x0b) };
    }
    const fault = meter.fault;
    if (fault?.kind === 'timeout') return silent();
    if (fault?.kind === 'garbage') {
      stats.garbage++;
      return { garbage: garbageBytes(meter.seed, garbageCount++, unitId, fc) };
    }
    if (fault?.kind === 'exception') {
      stats.exceptions++;
      return { pdu: exceptionPdu(fc, fault.code) };
    }
    if ((fc !== 0x03 && fc !== 0x04) || pdu.length !== 5) {
      stats.exceptions++;
      return { pdu: exceptionPdu(fc, EXCEPTION.illegalFunction) };
    }
    const result = meter.read(fc === 0x03 ? 'holding' : 'input', pdu.readUInt16BE(1), pdu.readUInt16BE(3));
    if (!result.ok) {
      stats.exceptions++;
      return { pdu: exceptionPdu(fc, result.exception) };
    }
    stats.answered++;
    return { pdu: readResponsePdu(fc, result.registers) };
  }
  function silent(): null {
    stats.silent++;
    return null;
  }
  const later = (send: () => void) => (options.latencyMs ? setTimeout(send, options.latencyMs) : setImmediate(send));

  const common = {
    meters,
    stats,
    setFault(unitId: number, fault: MeterFault | MeterFaultKind | null) {
      const meter = meters.get(unitId);
      if (!meter) throw new Error(`no meter with unit id ${unitId} on this bus`);
      const kind = typeof fault === 'string' ? fault : fault?.kind;
      if (kind !== undefined && !FAULT_KINDS.includes(kind)) throw new Error(`unknown fault "${kind}"; known: ${FAULT_KINDS.join(', ')}`);
      meter.setFault(typeof fault === 'string' ? defaultFault(fault) : fault);
    },
    values(unitId: number) {
      const meter = meters.get(unitId);
      if (!meter) throw new Error(`no meter with unit id ${unitId} on this bus`);
      return meter.values();
    },
  };

  if (options.transport === 'tcp') {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.setNoDelay(true);
      let buffer: Buffer = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        const { frames, rest } = takeTcpFrames(buffer.length ? Buffer.concat([buffer, chunk]) : chunk);
        buffer = rest;
        for (const frame of frames) {
          const reply = answer(frame.unitId, frame.pdu, true);
          if (!reply) continue;
          // Implementation Guide 3.1.3: the response echoes transaction id and unit id.
          const bytes = 'pdu' in reply ? tcpFrame(frame.transactionId, frame.unitId, reply.pdu) : reply.garbage;
          later(() => socket.writable && socket.write(bytes));
        }
      });
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const port = (server.address() as net.AddressInfo).port;
    return {
      ...common,
      port,
      path: null,
      close: async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  }

  const serial = new SerialPort({ path: options.path, baudRate: options.baudRate ?? 9600, autoOpen: false });
  await new Promise<void>((resolve, reject) => serial.open((error) => (error ? reject(new Error(`cannot open ${options.path}: ${error.message}`)) : resolve())));
  serial.on('error', () => undefined);
  let buffer: Buffer = Buffer.alloc(0);
  serial.on('data', (chunk: Buffer) => {
    const { frames, rest } = takeRtuFrames(buffer.length ? Buffer.concat([buffer, chunk]) : chunk);
    buffer = rest.length > 512 ? Buffer.alloc(0) : rest;
    for (const frame of frames) {
      // Serial Line 2.1: address 0 is a broadcast, which is never answered.
      const reply = frame.unitId === 0 ? null : answer(frame.unitId, frame.pdu, false);
      if (!reply) continue;
      const bytes = 'pdu' in reply ? withCrc(Buffer.concat([Buffer.from([frame.unitId]), reply.pdu])) : reply.garbage;
      later(() => serial.isOpen && serial.write(bytes));
    }
  });
  return {
    ...common,
    port: null,
    path: options.path,
    close: () => new Promise<void>((resolve) => (serial.isOpen ? serial.close(() => resolve()) : resolve())),
  };
}

const FAULT_KINDS: readonly MeterFaultKind[] = ['timeout', 'exception', 'garbage', 'rollback', 'replace', 'rollover'];

function defaultFault(kind: MeterFaultKind): MeterFault {
  return kind === 'exception' ? { kind, code: EXCEPTION.deviceFailure } : { kind };
}

/**
 * Bytes a broken meter or a noisy line produces: sometimes a frame that starts right (the unit id and
 * function code) but ends wrong, sometimes plain noise. Deterministic per meter and count.
 */
function garbageBytes(seed: number, n: number, unitId: number, fc: number): Buffer {
  const length = 3 + Math.floor(unitNoise(seed, 20, n) * 30);
  const bytes = Buffer.alloc(length);
  for (let i = 0; i < length; i++) bytes[i] = Math.floor(unitNoise(seed, 21 + i, n) * 256);
  if (n % 2 === 0) {
    bytes[0] = unitId;
    bytes[1] = fc;
  }
  return bytes;
}
