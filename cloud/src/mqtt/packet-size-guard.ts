import { Duplex } from 'node:stream';

export type PacketLimits = {
  /** Largest Remaining Length of the first packet (CONNECT), read before the client is authenticated. */
  firstPacketBytes: number;
  /** Largest Remaining Length of any later packet. */
  packetBytes: number;
};

export type OversizedPacket = { declaredBytes: number; limitBytes: number; firstPacket: boolean };

/**
 * Reads the fixed header of every MQTT packet going by (MQTT 3.1.1 section 2.2: one byte of type and
 * flags, then the Remaining Length as a variable-length integer of 1-4 bytes, section 2.2.3) and tells
 * when a packet declares more bytes than allowed, before any of its body is buffered.
 */
export class PacketSizeReader {
  private packets = 0;
  /** Where in the current packet we are: its first byte, its length bytes, or its body. */
  private phase: 'type' | 'length' | 'body' = 'type';
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private bodyLeft = 0;

  constructor(private readonly limits: PacketLimits) {}

  /** Feeds bytes as they arrive; returns the first packet that is too large (or malformed), else null. */
  feed(chunk: Buffer): OversizedPacket | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.phase === 'body') {
        const skip = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= skip;
        i += skip;
        if (this.bodyLeft === 0) this.phase = 'type';
        continue;
      }
      const byte = chunk[i++]!;
      if (this.phase === 'type') {
        this.phase = 'length';
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes += 1;
      const firstPacket = this.packets === 0;
      const limitBytes = firstPacket ? this.limits.firstPacketBytes : this.limits.packetBytes;
      // A fifth length byte is malformed (2.2.3); counting it as "too large" closes the connection too.
      if (this.length > limitBytes || (byte & 0x80 && this.lengthBytes === 4)) return { declaredBytes: this.length, limitBytes, firstPacket };
      if (byte & 0x80) continue;
      this.packets += 1;
      this.bodyLeft = this.length;
      this.phase = this.length > 0 ? 'body' : 'type';
    }
    return null;
  }
}

/**
 * The socket as aedes sees it, with a PacketSizeReader in front: every byte is passed on unchanged, but
 * the connection is destroyed as soon as a fixed header declares a packet larger than the limits, so
 * the MQTT parser (which buffers a whole packet before parsing it) never holds more than a limit's worth.
 */
export class GuardedConnection extends Duplex {
  private readonly reader: PacketSizeReader;

  constructor(
    private readonly socket: Duplex,
    limits: PacketLimits,
    onOversized: (packet: OversizedPacket) => void,
  ) {
    super({ allowHalfOpen: false });
    this.reader = new PacketSizeReader(limits);
    socket.on('data', (chunk: Buffer) => {
      const oversized = this.reader.feed(chunk);
      if (oversized) {
        onOversized(oversized);
        this.destroy();
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => this.destroy());
    socket.pause();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    // The socket's flow control passed on: the next write waits for its 'drain'.
    if (this.socket.write(chunk)) callback();
    else this.socket.once('drain', () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}
