/**
 * The server side of the Modbus wire: request framing for TCP (MBAP) and RTU (address + PDU + CRC),
 * written independently of the gateway's client library so the two sides check each other.
 */

/** CRC-16/MODBUS: polynomial 0xA001 (reflected 0x8005), initial 0xFFFF (Modbus over Serial Line V1.02, 6.2.2). */
export function crc16(bytes: Uint8Array, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = 0; i < end; i++) {
    crc ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

/** Appends the CRC, low byte first (Modbus over Serial Line V1.02, 2.5.1.2). */
export function withCrc(frame: Buffer): Buffer {
  const out = Buffer.alloc(frame.length + 2);
  frame.copy(out);
  out.writeUInt16LE(crc16(frame), frame.length);
  return out;
}

export type PduRequest = { fc: number; pdu: Buffer };

/** Exception response PDU: function code + 0x80, then the code (Modbus Application Protocol V1.1b3, 7). */
export function exceptionPdu(fc: number, code: number): Buffer {
  return Buffer.from([(fc | 0x80) & 0xff, code]);
}

/** Read Holding / Input Registers response PDU: fc, byte count = 2 x N, then N big-endian registers (6.3, 6.4). */
export function readResponsePdu(fc: number, registers: readonly number[]): Buffer {
  const pdu = Buffer.alloc(2 + registers.length * 2);
  pdu[0] = fc;
  pdu[1] = registers.length * 2;
  registers.forEach((w, i) => pdu.writeUInt16BE(w, 2 + i * 2));
  return pdu;
}

/**
 * Splits a TCP byte stream into MBAP frames (Modbus Messaging on TCP/IP Implementation Guide V1.0b, 3.1.3):
 * transaction id (2), protocol id (2, always 0), length (2, counts unit id + PDU), unit id (1), PDU.
 * A header that cannot be Modbus empties the buffer: a stream out of step cannot be trusted.
 */
export function takeTcpFrames(buffer: Buffer): { frames: { transactionId: number; unitId: number; pdu: Buffer }[]; rest: Buffer } {
  const frames: { transactionId: number; unitId: number; pdu: Buffer }[] = [];
  let at = 0;
  while (buffer.length - at >= 7) {
    const protocol = buffer.readUInt16BE(at + 2);
    const length = buffer.readUInt16BE(at + 4);
    if (protocol !== 0 || length < 2 || length > 254) return { frames, rest: Buffer.alloc(0) };
    if (buffer.length - at < 6 + length) break;
    frames.push({ transactionId: buffer.readUInt16BE(at), unitId: buffer[at + 6]!, pdu: buffer.subarray(at + 7, at + 6 + length) });
    at += 6 + length;
  }
  return { frames, rest: buffer.subarray(at) };
}

export function tcpFrame(transactionId: number, unitId: number, pdu: Buffer): Buffer {
  const out = Buffer.alloc(7 + pdu.length);
  out.writeUInt16BE(transactionId, 0);
  out.writeUInt16BE(0, 2);
  out.writeUInt16BE(pdu.length + 1, 4);
  out[6] = unitId;
  pdu.copy(out, 7);
  return out;
}

/** Length of an RTU request frame from its function code, or null when the code is not one we can size. */
function rtuRequestLength(buffer: Buffer, at: number): number | null {
  const fc = buffer[at + 1];
  if (fc === undefined) return null;
  if (fc >= 1 && fc <= 6) return 8; // address, fc, 2 x 2 bytes, CRC
  if (fc === 15 || fc === 16) {
    const count = buffer[at + 6];
    return count === undefined ? null : 9 + count;
  }
  return -1;
}

/**
 * Splits a serial byte stream into RTU request frames. The spec delimits frames by 3.5 character times of
 * silence (Modbus over Serial Line V1.02, 2.5.1.1); a pseudo-terminal or USB adapter does not keep those
 * gaps, so frames are found by their length and CRC instead, and bytes that do not start a valid frame
 * are skipped one at a time until one does (2.5.1.2: a frame with a bad CRC is discarded, never answered).
 */
export function takeRtuFrames(buffer: Buffer): { frames: { unitId: number; pdu: Buffer }[]; rest: Buffer } {
  const frames: { unitId: number; pdu: Buffer }[] = [];
  let at = 0;
  while (buffer.length - at >= 4) {
    const length = rtuRequestLength(buffer, at);
    if (length === null) break;
    if (length === -1) {
      at += 1;
      continue;
    }
    if (buffer.length - at < length) break;
    const frame = buffer.subarray(at, at + length);
    if (crc16(frame, length - 2) === frame.readUInt16LE(length - 2)) {
      frames.push({ unitId: frame[0]!, pdu: frame.subarray(1, length - 2) });
      at += length;
    } else {
      at += 1;
    }
  }
  return { frames, rest: buffer.subarray(at) };
}
