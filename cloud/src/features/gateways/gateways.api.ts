import { z } from '@hono/zod-openapi';
import { COMMAND_STATES, DEVICE_KINDS, GATEWAY_STATES } from './gateways.schema.js';
import { humanText } from '../../http/route-kit.js';

// Request and response shapes of the gateway registry API.

export const GatewayParams = z.object({ gatewayId: z.uuid().openapi({ param: { name: 'gatewayId', in: 'path' } }) });
export const CommandParams = GatewayParams.extend({ commandId: z.uuid().openapi({ param: { name: 'commandId', in: 'path' } }) });

const Device = z
  .object({
    deviceId: z.string(),
    kind: z.enum(DEVICE_KINDS),
    available: z.boolean(),
    reason: z.string().nullable(),
    since: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .openapi('GatewayDevice');

export const Gateway = z
  .object({
    id: z.uuid(),
    communityId: z.uuid(),
    name: z.string(),
    state: z.enum(GATEWAY_STATES),
    lastSeenAt: z.iso.datetime().nullable(),
    heartbeatOverdue: z.boolean().openapi({ description: 'Online, but nothing heard for 5 minutes (the last will may not have come)' }),
    version: z.string().nullable(),
    bootId: z.uuid().nullable(),
    configRevision: z.number().int(),
    outboxDepth: z.number().int().nullable(),
    outboxAlarm: z.boolean().nullable(),
    lastHealth: z.record(z.string(), z.unknown()).nullable().openapi({ description: 'The newest health telemetry (protocol GatewayHealth)' }),
    revoked: z.boolean(),
    createdAt: z.iso.datetime(),
    devices: z.array(Device).optional(),
  })
  .openapi('Gateway');

export const Credential = z
  .object({
    username: z.string().openapi({ description: 'The gateway id' }),
    password: z.string().openapi({ description: 'Shown once; the cloud keeps only its argon2id hash' }),
  })
  .openapi('GatewayCredential');

export const ProvisionedGateway = z
  .object({
    gateway: Gateway,
    credential: Credential,
    config: z.record(z.string(), z.unknown()).openapi({ description: 'The protocol GatewayConfig to install on the gateway, password included' }),
  })
  .openapi('ProvisionedGateway');

export const NewGateway = z.strictObject({ name: humanText(100) }).openapi('NewGateway');

export const GatewayCommand = z
  .object({
    id: z.uuid(),
    gatewayId: z.uuid(),
    name: z.string(),
    params: z.record(z.string(), z.unknown()),
    state: z.enum(COMMAND_STATES),
    result: z.record(z.string(), z.unknown()).nullable().openapi({ description: 'The protocol CommandResult' }),
    issuedAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
    completedAt: z.iso.datetime().nullable(),
  })
  .openapi('GatewayCommand');

export const NewCommand = z
  .discriminatedUnion('name', [
    z.strictObject({ name: z.literal('ping'), params: z.strictObject({}).default({}) }),
    z.strictObject({ name: z.literal('meter.read-now'), params: z.strictObject({ meterId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) }) }),
    z.strictObject({ name: z.literal('config.apply'), params: z.strictObject({}).default({}).openapi({ description: 'Pushes the stored config' }) }),
  ])
  .openapi('NewGatewayCommand');

export const WaitQuery = z.object({
  wait: z.coerce.number().int().min(0).max(10).default(10).openapi({ description: 'Seconds to wait for the result before answering 202' }),
});

export const ConfigUpdate = z.record(z.string(), z.unknown()).openapi('GatewayConfigUpdate', {
  description:
    'A protocol GatewayConfig without cloud.password (the credential is rotated with POST …/credential); gatewayId and communityId must be this gateway’s.',
});

export const ConfigApplied = z
  .object({ configRevision: z.number().int(), config: z.record(z.string(), z.unknown()), command: GatewayCommand })
  .openapi('GatewayConfigApplied');
