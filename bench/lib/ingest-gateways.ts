// The simulated gateways of bench/ingest.ts --source mqtt, in a child process of their own: they are the
// load generator, and the figure is the cloud's. Each gateway is an MQTT.js client publishing QoS 1
// ReadingsMessages; a publish resolves on its PUBACK, which the cloud sends only after the commit.
// Driven over IPC by ingest.ts (messages in ingest-load.ts).
import mqtt, { type MqttClient } from 'mqtt';
import { topics, type ReadingsMessage } from '@estate/protocol';
import { drive, type FromGateways, type LoadShape, type SimGateway, type ToGateways } from './ingest-load.js';

const clients = new Map<string, MqttClient>();
let sims: SimGateway[] = [];
let shape: LoadShape = { batch: 100, window: 2 };

const reply = (message: FromGateways) => process.send!(message);

async function handle(message: ToGateways): Promise<void> {
  if (message.type === 'start') {
    sims = message.sims;
    shape = message.shape;
    await Promise.all(
      sims.map(async (gw) => {
        const client = await mqtt.connectAsync(message.url, {
          clientId: gw.gatewayId,
          username: gw.gatewayId,
          password: gw.password,
          protocolVersion: 4,
          reconnectPeriod: 0,
          clean: true,
        });
        clients.set(gw.gatewayId, client);
      }),
    );
    reply({ type: 'ready' });
  } else if (message.type === 'drive') {
    const lags: number[] = [];
    const send = async (gw: SimGateway, body: ReadingsMessage) => {
      await clients.get(gw.gatewayId)!.publishAsync(topics.uplink(gw, 'readings'), JSON.stringify(body), { qos: 1 });
    };
    const readings = await drive(send, sims, shape, message.untilMs, message.t0, message.measure ? lags : null);
    reply({ type: 'driven', readings, lags });
  } else {
    await Promise.all([...clients.values()].map((c) => c.endAsync()));
    reply({ type: 'closed', seqs: Object.fromEntries(sims.map((gw) => [gw.gatewayId, gw.seq])) });
    process.disconnect();
  }
}

process.on('message', (message: ToGateways) => {
  handle(message).catch((error: unknown) => {
    reply({ type: 'failed', error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exitCode = 1;
    process.disconnect();
  });
});
