import { randomUUID } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { GatewayAddress, ReadingsMessage } from '@estate/protocol';
import type { Harness } from '../../../test/harness.js';
import { connectClient } from '../../mqtt/mqtt.test-helpers.js';
import type { EmbeddedBroker } from '../../mqtt/embedded-broker.js';
import { attachGatewayBroker } from './gateway-broker.js';

// Shared by the gateway tests: a harness with the embedded broker on a free port, and fake gateways.

export type FakeReadings = { calls: { gateway: GatewayAddress; message: ReadingsMessage }[]; handle(gateway: GatewayAddress, message: ReadingsMessage): Promise<void> };

export function fakeReadings(): FakeReadings {
  const calls: FakeReadings['calls'] = [];
  return {
    calls,
    async handle(gateway, message) {
      calls.push({ gateway, message });
    },
  };
}

export async function attachTestBroker(h: Harness, readings: FakeReadings = fakeReadings()) {
  const broker = (await attachGatewayBroker(h.deps, { readings, retry: { firstDelayMs: 10, maxDelayMs: 50 } })) as EmbeddedBroker;
  return { broker, readings };
}

/** Provisions a gateway through the API and returns what the gateway would be given. */
export async function provision(h: Harness, communityId: string, headers: Record<string, string>, name = `Gateway ${randomUUID().slice(0, 8)}`) {
  const res = await h.app.request(`/v1/communities/${communityId}/gateways`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
  if (res.status !== 201) throw new Error(`provisioning answered ${res.status}: ${await res.text()}`);
  const body = (await res.json()) as { gateway: { id: string; communityId: string }; credential: { username: string; password: string }; config: Record<string, unknown> };
  return { ...body, address: { communityId: body.gateway.communityId, gatewayId: body.gateway.id } as GatewayAddress };
}

/** A gateway's MQTT connection, with its retained online state and offline last will ([MQTT-3.1.2-8]). */
export async function connectGateway(broker: EmbeddedBroker, address: GatewayAddress, password: string, options: { bootId?: string; will?: boolean } = {}): Promise<MqttClient> {
  const bootId = options.bootId ?? randomUUID();
  const state = (s: 'online' | 'offline') => JSON.stringify({ v: 1, state: s, version: '1.2.3', bootId });
  return connectClient(broker.url, {
    clientId: address.gatewayId,
    username: address.gatewayId,
    password,
    clean: false,
    ...(options.will === false ? {} : { will: { topic: `estate/v1/${address.communityId}/gw/${address.gatewayId}/state`, payload: Buffer.from(state('offline')), qos: 1, retain: true } }),
  }).then(async (client) => {
    await client.publishAsync(`estate/v1/${address.communityId}/gw/${address.gatewayId}/state`, state('online'), { qos: 1, retain: true });
    return client;
  });
}
