/**
 * Finds the one response the gateway waits for in the bytes a bus delivers, before jsmodbus parses it.
 * jsmodbus trusts its input: noise or a late answer can leave its parser out of step or throw inside a
 * socket handler. The bus is serialised, so exactly one response is expected at a time, and everything
 * else is dropped here.
 */

/** A failed Modbus request, saying why, so the driver can decide whether to retry. */
export class ModbusRequestError extends Error {
  override readonly name = 'ModbusRequestError';
  constructor(
    readonly kind: 'timeout' | 'exception' | 'garbled' | 'offline',
    message: string,
    /** Modbus Application Protocol V1.1b3, section 7, when kind is `exception`. */
    readonly exceptionCode: number | null = null,
  ) {
    super(message);
  }
}

/** CRC-16/MODBUS (Modbus over Serial Line V1.02, 6.2.2): polynomial 0xA001, initial 0xFFFF, sent low byte first. */
export function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export type Expected = { unitId: number; fc: number; count: number; transactionId: number | null };
export type FramerResult = { frame: Buffer } | { error: string } | null;

export class ResponseFramer {
  private buffer: Buffer = Buffer.alloc(0);
  private expected: Expected | null = null;

  constructor(private readonly transport: 'tcp' | 'rtu') {}

  /** Starts waiting for one response; bytes left from an earlier exchange are stale and dropped. */
  begin(expected: Expected): void {
    this.expected = expected;
    this.buffer = Buffer.alloc(0);
  }

  setTransactionId(id: number): void {
    if (this.expected) this.expected.transactionId = id;
  }

  end(): void {
    this.expected = null;
    this.buffer = Buffer.alloc(0);
  }

  get pendingBytes(): number {
    return this.buffer.length;
  }

  /** A whole valid response, an error when the bytes cannot become one, or null to wait for more. */
  push(chunk: Buffer): FramerResult {
    if (!this.expected) return null;
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    return this.transport === 'tcp' ? this.tcp(this.expected) : this.rtu(this.expected);
  }

  /**
   * MBAP (Modbus Messaging on TCP/IP Implementation Guide V1.0b, 3.1.3): transaction id, protocol id 0,
   * length of unit id + PDU, unit id. A response with another transaction id answers a request that
   * already timed out, and is skipped (4.4.1.3 pairs requests and responses by transaction id).
   */
  private tcp(expected: Expected): FramerResult {
    for (;;) {
      const b = this.buffer;
      if (b.length < 7) return null;
      const length = b.readUInt16BE(4);
      if (b.readUInt16BE(2) !== 0 || length < 3 || length > 254) return { error: `not a Modbus TCP header (${b.subarray(0, 7).toString('hex')})` };
      if (b.length < 6 + length) return null;
      const frame = b.subarray(0, 6 + length);
      this.buffer = b.subarray(6 + length);
      if (frame.readUInt16BE(0) !== expected.transactionId) continue;
      if (frame[6] !== expected.unitId) return { error: `answer from unit ${frame[6]} to a request for unit ${expected.unitId}` };
      const problem = checkPdu(frame.subarray(7), expected);
      return problem ? { error: problem } : { frame };
    }
  }

  /**
   * RTU: address, PDU, CRC. Frame ends are marked by 3.5 character times of silence on a real line
   * (Modbus over Serial Line V1.02, 2.5.1.1); pseudo-terminals and USB adapters blur those gaps, so the
   * frame is recognised by address, function code, byte count and CRC (2.5.1.2), skipping anything else.
   */
  private rtu(expected: Expected): FramerResult {
    const b = this.buffer;
    for (let at = 0; at < b.length; at++) {
      if (b[at] !== expected.unitId) continue;
      const fc = b[at + 1];
      if (fc === undefined) return null;
      let length: number;
      if (fc === (expected.fc | 0x80)) length = 5;
      else if (fc === expected.fc) {
        const byteCount = b[at + 2];
        if (byteCount === undefined) return null;
        if (byteCount !== expected.count * 2) continue;
        length = 5 + byteCount;
      } else continue;
      if (b.length - at < length) return null;
      if (crc16(b, at, at + length - 2) !== b.readUInt16LE(at + length - 2)) continue;
      return { frame: b.subarray(at, at + length) };
    }
    // Keep the last byte: it may be the address of a frame still arriving.
    if (b.length > 1) this.buffer = b.subarray(b.length - 1);
    return null;
  }
}

/** Read Holding / Input Registers (Application Protocol 6.3, 6.4): byte count must be 2 x the registers asked for. */
function checkPdu(pdu: Buffer, expected: Expected): string | null {
  const fc = pdu[0];
  if (fc === (expected.fc | 0x80)) return pdu.length === 2 ? null : `exception response of ${pdu.length} bytes`;
  if (fc !== expected.fc) return `function code ${fc} in answer to ${expected.fc}`;
  if (pdu[1] !== expected.count * 2 || pdu.length !== 2 + expected.count * 2) return `byte count ${pdu[1]} for ${expected.count} registers`;
  return null;
}
