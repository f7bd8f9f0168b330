import { z } from 'zod';
import { DeviceId } from './mqtt/messages.js';
import { METER_MODELS } from './meters/models.js';

const Uuid = z.uuid();

export const ModbusBus = z.discriminatedUnion('transport', [
  z.strictObject({
    id: DeviceId,
    transport: z.literal('tcp'),
    host: z.string().min(1).max(255),
    port: z.number().int().min(1).max(65535).default(502),
  }),
  z.strictObject({
    id: DeviceId,
    transport: z.literal('rtu'),
    path: z.string().min(1).max(255),
    baudRate: z.number().int().positive().default(9600),
    parity: z.enum(['none', 'even', 'odd']).default('none'),
    dataBits: z.union([z.literal(7), z.literal(8)]).default(8),
    stopBits: z.union([z.literal(1), z.literal(2)]).default(1),
  }),
]);
export type ModbusBus = z.infer<typeof ModbusBus>;

export const MeterConfig = z.strictObject({
  id: DeviceId,
  bus: DeviceId,
  unitId: z.number().int().min(1).max(247),
  model: z.string().refine((m) => METER_MODELS.has(m), { error: (issue) => `unknown meter model "${String(issue.input)}"; known: ${[...METER_MODELS.keys()].join(', ')}` }),
  /** Billing reads every 15 minutes; a live view may ask for more often. */
  pollSeconds: z.number().int().min(1).max(86_400).default(900),
  timeoutMs: z.number().int().min(50).max(30_000).default(1000),
  retries: z.number().int().min(0).max(5).default(2),
});
export type MeterConfig = z.infer<typeof MeterConfig>;

/**
 * Everything a gateway needs to run, as the cloud issues it in the provisioning bundle and pushes it
 * with `config.apply`. The gateway validates it with every problem listed before it uses any of it.
 */
export const GatewayConfig = z
  .strictObject({
    v: z.literal(1),
    gatewayId: Uuid,
    communityId: Uuid,
    cloud: z.strictObject({
      mqttUrl: z.string().regex(/^(mqtts?|wss?):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL'),
      username: z.string().min(1).max(128),
      password: z.string().min(1).max(256),
      /** PEM CA for a private TLS chain; the system store is used when absent. */
      caPem: z.string().max(20_000).optional(),
      keepaliveSeconds: z.number().int().min(5).max(600).default(30),
    }),
    outbox: z
      .strictObject({
        quotaBytes: z.number().int().min(1024 * 1024).default(256 * 1024 * 1024),
        /** Raise the alarm when the outbox reaches this share of its quota. */
        alarmRatio: z.number().min(0.1).max(0.99).default(0.8),
        /** Replay after a reconnect is paced so a day offline does not flood the cloud. */
        replayMessagesPerSecond: z.number().int().min(1).max(10_000).default(200),
        batchSize: z.number().int().min(1).max(500).default(100),
      })
      .default({ quotaBytes: 256 * 1024 * 1024, alarmRatio: 0.8, replayMessagesPerSecond: 200, batchSize: 100 }),
    telemetrySeconds: z.number().int().min(5).max(3600).default(60),
    modbus: z
      .strictObject({ buses: z.array(ModbusBus).default([]), meters: z.array(MeterConfig).default([]) })
      .default({ buses: [], meters: [] }),
  })
  .superRefine((config, ctx) => {
    const buses = new Set<string>();
    config.modbus.buses.forEach((bus, i) => {
      if (buses.has(bus.id)) ctx.addIssue({ code: 'custom', path: ['modbus', 'buses', i, 'id'], message: `bus id "${bus.id}" is used twice` });
      buses.add(bus.id);
    });
    const meters = new Set<string>();
    const addresses = new Set<string>();
    config.modbus.meters.forEach((meter, i) => {
      if (meters.has(meter.id)) ctx.addIssue({ code: 'custom', path: ['modbus', 'meters', i, 'id'], message: `meter id "${meter.id}" is used twice` });
      meters.add(meter.id);
      if (!buses.has(meter.bus)) ctx.addIssue({ code: 'custom', path: ['modbus', 'meters', i, 'bus'], message: `no bus "${meter.bus}" is configured` });
      const address = `${meter.bus}/${meter.unitId}`;
      if (addresses.has(address)) ctx.addIssue({ code: 'custom', path: ['modbus', 'meters', i, 'unitId'], message: `unit ${meter.unitId} on bus "${meter.bus}" is already another meter` });
      addresses.add(address);
    });
  });
export type GatewayConfig = z.infer<typeof GatewayConfig>;
export type GatewayConfigInput = z.input<typeof GatewayConfig>;
