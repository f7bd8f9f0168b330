import { describe, expect, it } from 'vitest';
import { gatewayMayPublish, gatewayMaySubscribe, parseTopic, topics } from './topics.js';

const A = { communityId: 'c0000000-0000-4000-8000-00000000000a', gatewayId: 'g0000000-0000-4000-8000-00000000000a' };
const B = { communityId: 'c0000000-0000-4000-8000-00000000000b', gatewayId: 'g0000000-0000-4000-8000-00000000000b' };
const A2 = { communityId: A.communityId, gatewayId: 'g0000000-0000-4000-8000-0000000000a2' };

describe('topic tree', () => {
  it('builds and parses every kind of topic', () => {
    expect(parseTopic(topics.state(A))).toEqual({ kind: 'state', ...A });
    expect(parseTopic(topics.uplink(A, 'readings'))).toEqual({ kind: 'uplink', ...A, channel: 'readings' });
    expect(parseTopic(topics.downlink(A, 'commands'))).toEqual({ kind: 'downlink', ...A, channel: 'commands' });
    expect(parseTopic(topics.deviceAvailability(A, 'meter-1'))).toEqual({ kind: 'deviceAvailability', ...A, deviceId: 'meter-1' });
    expect(parseTopic(topics.shared(A.communityId, 'revocations'))).toEqual({ kind: 'shared', communityId: A.communityId, name: 'revocations' });
  });

  it.each([
    'estate/v2/c/gw/g/state',
    'estate/v1/c/gw/g/up/unknown-channel',
    'estate/v1/c/gw/g/up/readings/extra',
    'estate/v1/c/gw/g',
    'other/v1/c/gw/g/state',
    'estate/v1/c d/gw/g/state',
    '',
  ])('refuses %j', (topic) => expect(parseTopic(topic)).toBeNull());

  it('refuses ids that would change a topic’s meaning', () => {
    expect(() => topics.state({ communityId: '+', gatewayId: 'g' })).toThrow(/community id/);
    expect(() => topics.deviceAvailability(A, 'a/b')).toThrow(/device id/);
  });
});

describe('gateway ACL', () => {
  it('lets a gateway publish only in its own subtree', () => {
    expect(gatewayMayPublish(A, topics.uplink(A, 'readings'))).toBe(true);
    expect(gatewayMayPublish(A, topics.state(A))).toBe(true);
    expect(gatewayMayPublish(A, topics.deviceAvailability(A, 'm1'))).toBe(true);
    expect(gatewayMayPublish(A, topics.uplink(B, 'readings'))).toBe(false);
    expect(gatewayMayPublish(A, topics.uplink(A2, 'readings'))).toBe(false);
    expect(gatewayMayPublish(A, topics.downlink(A, 'commands'))).toBe(false);
    expect(gatewayMayPublish(A, topics.shared(A.communityId, 'revocations'))).toBe(false);
    expect(gatewayMayPublish(A, 'estate/v1/#')).toBe(false);
  });

  it('lets a gateway subscribe to its downlink and its community’s shared state, nothing wider', () => {
    for (const filter of topics.gatewaySubscriptions(A)) expect(gatewayMaySubscribe(A, filter)).toBe(true);
    expect(gatewayMaySubscribe(A, topics.downlink(A, 'commands'))).toBe(true);
    expect(gatewayMaySubscribe(A, topics.shared(A.communityId, 'whitelist'))).toBe(true);
    expect(gatewayMaySubscribe(A, topics.downlink(B, 'commands'))).toBe(false);
    expect(gatewayMaySubscribe(A, topics.downlink(A2, 'commands'))).toBe(false);
    expect(gatewayMaySubscribe(A, topics.shared(B.communityId, 'revocations'))).toBe(false);
    for (const wide of ['#', 'estate/v1/#', `estate/v1/${A.communityId}/#`, `estate/v1/${A.communityId}/gw/+/down/+`, `estate/v1/+/shared/+`]) {
      expect(gatewayMaySubscribe(A, wide), wide).toBe(false);
    }
  });
});
