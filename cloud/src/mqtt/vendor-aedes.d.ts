declare module 'aedes-persistence-redis' {
  import type { Redis } from 'ioredis';
  /**
   * aedes-persistence-redis 11: a callback layer over its async core that also answers with promises when
   * no callback is given, which is what aedes 1.x calls (and it turns the async retained-message
   * iterator into the stream aedes pipes).
   */
  /** Call without callbacks: the callback forms wait for a `ready` event that `setup()` never emits. */
  export type RedisPersistence = {
    setup(broker: unknown): Promise<void>;
    destroy(): Promise<void>;
    /** Wills of brokers not in `brokers` (dead ones), each with the client id and broker id it was stored under. */
    streamWill(brokers: unknown): AsyncIterable<StoredWill>;
    delWill(client: { id: string; brokerId: string }): Promise<unknown>;
  };
  export type StoredWill = import('aedes').PublishPacket & { clientId: string; brokerId: string };
  export default function persistence(options: { conn: Redis; maxSessionDelivery?: number }): RedisPersistence;
}
