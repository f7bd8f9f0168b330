import { createServer, type Server, type Socket } from 'node:net';
import { Aedes } from 'aedes';

export type UplinkMessage = { topic: string; payload: unknown; retain: boolean; at: number; clientId: string | null };

/**
 * An in-process aedes broker on a free TCP port that records every PUBLISH it receives from a client.
 * `down()` closes it (dropping every connection); `up()` starts a fresh one on the same port, as a
 * broker restart without persistence would.
 */
export class TestBroker {
  readonly received: UplinkMessage[] = [];
  port = 0;
  private broker: Aedes | null = null;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();

  static async start(): Promise<TestBroker> {
    const broker = new TestBroker();
    await broker.up();
    return broker;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get aedes(): Aedes {
    if (!this.broker) throw new Error('broker is down');
    return this.broker;
  }

  async up(): Promise<void> {
    const broker = await Aedes.createBroker();
    broker.on('publish', (packet, client) => {
      if (!client) return;
      let payload: unknown = packet.payload.toString();
      try {
        payload = JSON.parse(payload as string);
      } catch {
        // kept as text
      }
      this.received.push({ topic: packet.topic, payload, retain: packet.retain, at: Date.now(), clientId: client.id });
    });
    const server = createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      broker.handle(socket);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address && typeof address === 'object') this.port = address.port;
    this.broker = broker;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    const broker = this.broker;
    this.server = null;
    this.broker = null;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await new Promise<void>((resolve) => (broker ? broker.close(() => resolve()) : resolve()));
  }

  /** Publishes as the cloud would (QoS 1). */
  publish(topic: string, payload: string | Buffer, retain = false): Promise<void> {
    return new Promise((resolve, reject) => {
      this.aedes.publish({ cmd: 'publish', topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 1, retain, dup: false }, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Uplink items of one channel in arrival order, e.g. `items('readings')`. */
  items<T = { seq: number }>(channel: string): T[] {
    return this.received.filter((m) => m.topic.endsWith(`/up/${channel}`)).flatMap((m) => (m.payload as { items: T[] }).items);
  }

  messages(channel: string): UplinkMessage[] {
    return this.received.filter((m) => m.topic.endsWith(`/up/${channel}`));
  }
}
