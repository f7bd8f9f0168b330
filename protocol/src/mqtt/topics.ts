/**
 * The MQTT topic tree. Community and gateway are in every gateway's path, so the broker's ACL can give a
 * gateway its own subtree and nothing else:
 *
 *   estate/v1/{communityId}/gw/{gatewayId}/state                         retained, last will: online/offline
 *   estate/v1/{communityId}/gw/{gatewayId}/up/{channel}                  uplink (gateway -> cloud), QoS 1
 *   estate/v1/{communityId}/gw/{gatewayId}/down/{channel}                downlink (cloud -> gateway), QoS 1
 *   estate/v1/{communityId}/gw/{gatewayId}/devices/{deviceId}/availability   retained
 *   estate/v1/{communityId}/shared/{name}                                retained, community-wide (revocations, whitelists)
 *
 * Ids are UUIDs or `[A-Za-z0-9_-]{1,64}` device ids: never `+`, `#` or `/`, which would change a
 * topic's meaning ([MQTT-4.7.1-1], [MQTT-4.7.1-2]).
 */
export const TOPIC_ROOT = 'estate/v1';

export const UPLINK_CHANNELS = ['readings', 'telemetry', 'results', 'access', 'locks'] as const;
export type UplinkChannel = (typeof UPLINK_CHANNELS)[number];
export const DOWNLINK_CHANNELS = ['commands'] as const;
export type DownlinkChannel = (typeof DOWNLINK_CHANNELS)[number];

const ID = /^[A-Za-z0-9_-]{1,64}$/;

export function assertTopicId(kind: string, id: string): string {
  if (!ID.test(id)) throw new Error(`${kind} id "${id.slice(0, 70)}" may only hold letters, digits, "_" and "-" (1-64)`);
  return id;
}

export type GatewayAddress = { communityId: string; gatewayId: string };

function gatewayBase({ communityId, gatewayId }: GatewayAddress): string {
  return `${TOPIC_ROOT}/${assertTopicId('community', communityId)}/gw/${assertTopicId('gateway', gatewayId)}`;
}

/**
 * Builds topics; both sides use these and never concatenate by hand.
 *
 * @example
 * topics.uplink({ communityId, gatewayId }, 'readings') // 'estate/v1/<c>/gw/<g>/up/readings'
 */
export const topics = {
  state: (gw: GatewayAddress) => `${gatewayBase(gw)}/state`,
  uplink: (gw: GatewayAddress, channel: UplinkChannel) => `${gatewayBase(gw)}/up/${channel}`,
  downlink: (gw: GatewayAddress, channel: DownlinkChannel) => `${gatewayBase(gw)}/down/${channel}`,
  deviceAvailability: (gw: GatewayAddress, deviceId: string) => `${gatewayBase(gw)}/devices/${assertTopicId('device', deviceId)}/availability`,
  shared: (communityId: string, name: string) => `${TOPIC_ROOT}/${assertTopicId('community', communityId)}/shared/${assertTopicId('shared state', name)}`,
  /** Filters a gateway subscribes to: its downlink and its community's shared state. */
  gatewaySubscriptions: (gw: GatewayAddress) => [`${gatewayBase(gw)}/down/+`, `${TOPIC_ROOT}/${assertTopicId('community', gw.communityId)}/shared/+`],
  /** Filters the cloud subscribes to, across every community. */
  cloudSubscriptions: () => [`${TOPIC_ROOT}/+/gw/+/up/+`, `${TOPIC_ROOT}/+/gw/+/state`, `${TOPIC_ROOT}/+/gw/+/devices/+/availability`],
};

export type ParsedTopic =
  | { kind: 'state'; communityId: string; gatewayId: string }
  | { kind: 'uplink'; communityId: string; gatewayId: string; channel: UplinkChannel }
  | { kind: 'downlink'; communityId: string; gatewayId: string; channel: DownlinkChannel }
  | { kind: 'deviceAvailability'; communityId: string; gatewayId: string; deviceId: string }
  | { kind: 'shared'; communityId: string; name: string };

/** Reads a topic back into its parts; null for anything outside the tree (such a message is rejected). */
export function parseTopic(topic: string): ParsedTopic | null {
  const parts = topic.split('/');
  if (parts[0] !== 'estate' || parts[1] !== 'v1') return null;
  const [, , communityId, section, a, b, c, d] = parts;
  if (!communityId || !ID.test(communityId)) return null;
  if (section === 'shared' && a && ID.test(a) && parts.length === 5) return { kind: 'shared', communityId, name: a };
  if (section !== 'gw' || !a || !ID.test(a)) return null;
  const gatewayId = a;
  if (b === 'state' && parts.length === 6) return { kind: 'state', communityId, gatewayId };
  if (b === 'up' && parts.length === 7 && (UPLINK_CHANNELS as readonly string[]).includes(c!)) return { kind: 'uplink', communityId, gatewayId, channel: c as UplinkChannel };
  if (b === 'down' && parts.length === 7 && (DOWNLINK_CHANNELS as readonly string[]).includes(c!)) return { kind: 'downlink', communityId, gatewayId, channel: c as DownlinkChannel };
  if (b === 'devices' && c && ID.test(c) && d === 'availability' && parts.length === 8) return { kind: 'deviceAvailability', communityId, gatewayId, deviceId: c };
  return null;
}

/**
 * Whether a gateway may publish to / subscribe to a topic or filter: only inside its own subtree, plus
 * subscribing to its community's shared state. The cloud broker's ACL and the Mosquitto ACL in docs/ say
 * the same thing.
 */
export function gatewayMayPublish(gw: GatewayAddress, topic: string): boolean {
  const parsed = parseTopic(topic);
  if (!parsed || parsed.communityId !== gw.communityId || parsed.kind === 'shared') return false;
  if (parsed.gatewayId !== gw.gatewayId) return false;
  return parsed.kind === 'state' || parsed.kind === 'uplink' || parsed.kind === 'deviceAvailability';
}

export function gatewayMaySubscribe(gw: GatewayAddress, filter: string): boolean {
  if (topics.gatewaySubscriptions(gw).includes(filter)) return true;
  // Any other wildcard could reach past the gateway's own subtree.
  if (filter.includes('+') || filter.includes('#')) return false;
  const parsed = parseTopic(filter);
  if (!parsed || parsed.communityId !== gw.communityId) return false;
  return parsed.kind === 'shared' || (parsed.kind === 'downlink' && parsed.gatewayId === gw.gatewayId);
}
