import { encodePayload, topics, type DeviceAvailability, type GatewayAddress } from '@estate/protocol';
import { errorText, type Logger } from '../log.js';
import type { CloudLink } from './cloud-link.js';

/**
 * Per-device availability, retained on `.../devices/{deviceId}/availability` (as zigbee2mqtt's
 * availability extension does). The latest state of every device is kept in memory and republished after
 * every reconnect: the broker may have lost retained messages, and a change during the outage must reach
 * the cloud. Availability is state, not history: it does not go through the outbox (latest wins).
 */
export class AvailabilityPublisher {
  private readonly latest = new Map<string, DeviceAvailability>();
  private link: CloudLink | null = null;
  private readonly onUp = () => this.republishAll();

  constructor(
    private readonly gateway: GatewayAddress,
    private readonly log: Logger,
  ) {}

  attach(link: CloudLink): void {
    this.link?.off('up', this.onUp);
    this.link = link;
    link.on('up', this.onUp);
    if (link.isConnected()) this.republishAll();
  }

  update(availability: DeviceAvailability): void {
    const previous = this.latest.get(availability.deviceId);
    this.latest.set(availability.deviceId, availability);
    if (previous && previous.available === availability.available && previous.reason === availability.reason) return;
    this.publish(availability);
  }

  snapshot(): DeviceAvailability[] {
    return [...this.latest.values()];
  }

  private republishAll(): void {
    for (const availability of this.latest.values()) this.publish(availability);
  }

  private publish(availability: DeviceAvailability): void {
    const link = this.link;
    if (!link?.isConnected()) return;
    link.publish(topics.deviceAvailability(this.gateway, availability.deviceId), encodePayload('deviceAvailability', availability), { retain: true }).catch((error: unknown) => {
      // Not lost: the next reconnect republishes every device's latest state.
      this.log.debug('availability not published now; it will be after the next reconnect', { deviceId: availability.deviceId, error: errorText(error) });
    });
  }
}
