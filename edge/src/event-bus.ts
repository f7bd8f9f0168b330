import type { Logger } from './log.js';

type Listener<P> = (payload: P) => void | Promise<void>;

/**
 * A typed event bus in the manner of zigbee2mqtt's `lib/eventBus.ts`: every listener is registered with
 * its owner and wrapped, so a listener that throws (or rejects) is logged under its owner's name and the
 * other listeners, and the emitter, go on. `emit` never throws.
 *
 * @example
 * bus.on('reading', 'outbox', ({ reading }) => outbox.append('readings', reading));
 * bus.emit('reading', { driver: 'modbus', reading });
 */
export class EventBus<Events extends Record<string, unknown>> {
  private readonly listeners = new Map<keyof Events, { owner: string; listener: Listener<never> }[]>();

  constructor(
    private readonly log: Logger,
    private readonly onListenerError: (owner: string, event: string, error: unknown) => void = () => {},
  ) {}

  on<K extends keyof Events>(event: K, owner: string, listener: Listener<Events[K]>): void {
    const list = this.listeners.get(event) ?? [];
    list.push({ owner, listener: listener as Listener<never> });
    this.listeners.set(event, list);
  }

  removeListenersOf(owner: string): void {
    for (const [event, list] of this.listeners) {
      this.listeners.set(event, list.filter((l) => l.owner !== owner));
    }
  }

  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    for (const { owner, listener } of this.listeners.get(event) ?? []) {
      try {
        const result = (listener as Listener<Events[K]>)(payload);
        if (result instanceof Promise) result.catch((error: unknown) => this.failed(owner, String(event), error));
      } catch (error) {
        this.failed(owner, String(event), error);
      }
    }
  }

  private failed(owner: string, event: string, error: unknown): void {
    this.log.error('event listener failed', { owner, event, error: error instanceof Error ? error.message : String(error) });
    try {
      this.onListenerError(owner, event, error);
    } catch {
      // The error hook is last-resort reporting; it must not turn one failure into two.
    }
  }
}
