import { z } from 'zod';
import type { UplinkChannel } from './topics.js';

/**
 * Message schemas, version 1. Every message carries `v`; a receiver rejects a version it does not know
 * (reason `unsupported-version`) instead of guessing. A new field that old receivers may ignore keeps v;
 * anything else bumps it.
 */
export const SCHEMA_VERSION = 1 as const;
/** Largest payload either side accepts; a reading batch of 500 stays well below it. */
export const MAX_PAYLOAD_BYTES = 256 * 1024;
export const MAX_BATCH_ITEMS = 500;

const Version = z.literal(SCHEMA_VERSION);
export const DeviceId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" and "-" only (1-64)');
const GatewayId = DeviceId;
export const Instant = z.iso.datetime({ offset: true });
/** Exact decimal as text: meter counters reach billing without float rounding. 14.6 digits: numeric(20,6). */
export const DecimalString = z.string().regex(/^-?\d{1,14}(\.\d{1,6})?$/, 'a decimal number as a string, e.g. "12345.67"');
/** The gateway's sequence number: one per uplink record, strictly increasing, never reused. */
export const GatewaySeq = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);

export const Quantity = z.string().regex(/^[a-z][a-z0-9_]{0,39}$/);
export const MeterValue = z.strictObject({ value: DecimalString, unit: z.string().min(1).max(16) });

/** One poll of one meter. `values` holds every quantity the model's register map names. */
export const MeterReading = z.strictObject({
  seq: GatewaySeq,
  meterId: DeviceId,
  readAt: Instant,
  values: z.record(Quantity, MeterValue).refine((v) => Object.keys(v).length > 0, 'at least one value'),
});
export type MeterReading = z.infer<typeof MeterReading>;

export const DRIVER_STATUSES = ['running', 'degraded', 'failed', 'stopped'] as const;
export const GatewayHealth = z.strictObject({
  seq: GatewaySeq,
  at: Instant,
  version: z.string().max(40),
  uptimeSeconds: z.number().nonnegative(),
  rssBytes: z.number().int().nonnegative(),
  outbox: z.strictObject({
    depth: z.number().int().nonnegative(),
    bytes: z.number().int().nonnegative(),
    quotaBytes: z.number().int().positive(),
    oldestSeq: GatewaySeq.nullable(),
    alarm: z.boolean(),
    /** Records refused since boot because the outbox was full (readings are never evicted, only refused). */
    refused: z.number().int().nonnegative().optional(),
  }),
  /** Commands since boot that were malformed or of an unknown version, and repeats answered from the journal. */
  commands: z.strictObject({ rejected: z.number().int().nonnegative(), duplicate: z.number().int().nonnegative() }).optional(),
  drivers: z.array(
    z.strictObject({
      name: z.string().max(64),
      status: z.enum(DRIVER_STATUSES),
      devices: z.number().int().nonnegative(),
      unavailable: z.number().int().nonnegative(),
      lastError: z.string().max(500).nullable(),
    }),
  ),
});
export type GatewayHealth = z.infer<typeof GatewayHealth>;

export const COMMAND_RESULT_STATUSES = ['ok', 'error', 'rejected', 'expired'] as const;
/** The answer to a command, correlated by `commandId`. Every command gets exactly one. */
export const CommandResult = z.strictObject({
  seq: GatewaySeq,
  commandId: z.uuid(),
  status: z.enum(COMMAND_RESULT_STATUSES),
  at: Instant,
  error: z.strictObject({ code: z.string().max(64), message: z.string().max(500) }).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});
export type CommandResult = z.infer<typeof CommandResult>;

/** Every uplink message is a batch of records, each with its own gateway sequence number. */
function batch<T extends z.ZodType>(item: T) {
  return z.strictObject({ v: Version, gatewayId: GatewayId, sentAt: Instant, items: z.array(item).min(1).max(MAX_BATCH_ITEMS) });
}
// ---- Doors (see protocol/src/doors/virtual-key.ts and docs/doors.md) ----

const Uuid = z.uuid();
const DoorCode = z.number().int().min(1).max(0x7fff);
export const ACCESS_OUTCOMES = ['opened', 'denied', 'failed'] as const;
/** One attempt to open a door that the gateway decided: opened, denied (with the reason) or failed at the lock. */
export const AccessRecord = z.strictObject({
  seq: GatewaySeq,
  /** Unique per attempt: the commandId of an online open, a fresh UUID for a QR scan. */
  attemptId: Uuid,
  doorId: Uuid,
  method: z.enum(['online', 'qr']),
  outcome: z.enum(ACCESS_OUTCOMES),
  /** A DenialReason when denied, a lock error code when failed. */
  reason: z.string().max(64).nullable(),
  detail: z.string().max(300).nullable(),
  credentialId: Uuid.nullable(),
  holderKind: z.enum(['resident', 'staff', 'visitor']).nullable(),
  holderId: Uuid.nullable(),
  readerId: DeviceId.nullable(),
  at: Instant,
});
export type AccessRecord = z.infer<typeof AccessRecord>;

export const LockStatus = z.strictObject({
  battery: z.number().int().min(0).max(100),
  locked: z.boolean(),
  doorOpen: z.boolean(),
  tamper: z.boolean(),
  jammed: z.boolean(),
});
export type LockStatus = z.infer<typeof LockStatus>;
export const LOCK_EVENT_KINDS = ['status', 'door-opened', 'door-closed', 'tamper', 'jam', 'battery-low'] as const;
/** What a lock reported: its status after an operation, or an unsolicited notification. */
export const LockEvent = z.strictObject({
  seq: GatewaySeq,
  lockId: DeviceId,
  doorId: Uuid,
  kind: z.enum(LOCK_EVENT_KINDS),
  at: Instant,
  status: LockStatus,
});
export type LockEvent = z.infer<typeof LockEvent>;

/** One door as the gateway needs it: its code, groups, and the lock with its secret (16 bytes, base64url). */
export const RosterDoor = z.strictObject({
  doorId: Uuid,
  code: DoorCode,
  name: z.string().min(1).max(100),
  groups: z.array(DoorCode).max(64),
  lock: z.strictObject({
    id: DeviceId,
    address: z.string().regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/, 'a BLE address such as AA:BB:CC:DD:EE:FF'),
    secret: z.string().regex(/^[A-Za-z0-9_-]{22}$/, '16 bytes, base64url'),
  }),
  /** How long the lock stays open after an unlock. */
  holdMs: z.number().int().min(1000).max(60_000).default(5000),
});
export type RosterDoor = z.infer<typeof RosterDoor>;
/** The doors a gateway serves, sent with `doors.sync`; a revision older than the one held is ignored. */
export const DoorRoster = z
  .strictObject({ revision: z.number().int().positive(), doors: z.array(RosterDoor).max(500) })
  .superRefine((roster, ctx) => {
    const seen = new Set<string>();
    roster.doors.forEach((d, i) => {
      for (const [kind, value] of [['door', d.doorId], ['code', String(d.code)], ['lock', d.lock.id], ['address', d.lock.address.toUpperCase()]] as const) {
        if (seen.has(`${kind}:${value}`)) ctx.addIssue({ code: 'custom', path: ['doors', i], message: `${kind} ${value} appears twice` });
        seen.add(`${kind}:${value}`);
      }
    });
  });
export type DoorRoster = z.infer<typeof DoorRoster>;

/**
 * Retained on `shared/door-keys`: the community's signing keys in force. Keys carry `notAfter`: once
 * nothing they signed can still be valid, gateways drop them. A version older than the one held is
 * ignored (a stale retained copy after a broker restart).
 */
export const DoorKeySet = z.strictObject({
  v: Version,
  communityId: Uuid,
  version: z.number().int().positive(),
  issuedAt: Instant,
  keys: z
    .array(
      z.strictObject({
        keyId: z.string().regex(/^[0-9a-f]{16}$/),
        alg: z.literal('Ed25519'),
        publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/, '32 bytes, base64url'),
        notAfter: Instant.nullable(),
      }),
    )
    .max(16),
});
export type DoorKeySet = z.infer<typeof DoorKeySet>;

/** Most revocations one retained message carries; keys live at most 31 days, so a list stays far below. */
export const MAX_REVOCATIONS = 3000;
/**
 * Retained on `shared/door-revocations`: every revoked credential that could still be valid (until =
 * its valid-until, Unix seconds; after that it expires anyway and leaves the list). Versioned like the
 * key set; a gateway keeps the newest it has seen, on disk, and refuses those keys with the cloud gone.
 */
export const DoorRevocations = z.strictObject({
  v: Version,
  communityId: Uuid,
  version: z.number().int().positive(),
  issuedAt: Instant,
  entries: z.array(z.strictObject({ id: Uuid, until: z.number().int().nonnegative() })).max(MAX_REVOCATIONS),
});
export type DoorRevocations = z.infer<typeof DoorRevocations>;

/** Shared (community-wide, retained) state, by topic name. */
export const SHARED_SCHEMAS = { 'door-keys': DoorKeySet, 'door-revocations': DoorRevocations } as const;
export type SharedName = keyof typeof SHARED_SCHEMAS;

export const ReadingsMessage = batch(MeterReading);
export const TelemetryMessage = batch(GatewayHealth);
export const ResultsMessage = batch(CommandResult);
export const AccessMessage = batch(AccessRecord);
export const LockEventsMessage = batch(LockEvent);

/** Retained on `.../state`; the last will publishes the offline form when the connection dies. */
export const GatewayState = z.strictObject({
  v: Version,
  state: z.enum(['online', 'offline']),
  version: z.string().max(40),
  bootId: z.uuid(),
});
export type GatewayState = z.infer<typeof GatewayState>;

/** Retained on `.../devices/{deviceId}/availability`. */
export const DeviceAvailability = z.strictObject({
  v: Version,
  deviceId: DeviceId,
  kind: z.enum(['meter', 'lock', 'gate', 'camera']),
  available: z.boolean(),
  reason: z.string().max(300).nullable(),
  since: Instant,
});
export type DeviceAvailability = z.infer<typeof DeviceAvailability>;

const commandBase = { v: Version, commandId: z.uuid(), issuedAt: Instant, expiresAt: Instant };
/** Cloud -> gateway requests. The gateway answers each with a CommandResult carrying the same commandId. */
export const Command = z.discriminatedUnion('name', [
  z.strictObject({ ...commandBase, name: z.literal('ping'), params: z.strictObject({}) }),
  z.strictObject({ ...commandBase, name: z.literal('meter.read-now'), params: z.strictObject({ meterId: DeviceId }) }),
  // The config is checked by the gateway against GatewayConfig; a bad one is answered `rejected`.
  z.strictObject({ ...commandBase, name: z.literal('config.apply'), params: z.strictObject({ config: z.unknown() }) }),
  // Opens a door for an online request: the gateway checks the token itself before it unlocks.
  z.strictObject({ ...commandBase, name: z.literal('door.open'), params: z.strictObject({ doorId: Uuid, token: z.string().min(1).max(1024) }) }),
  // The doors this gateway serves, with their locks' secrets (checked against DoorRoster by the gateway).
  z.strictObject({ ...commandBase, name: z.literal('doors.sync'), params: z.strictObject({ roster: z.unknown() }) }),
]);
export type Command = z.infer<typeof Command>;
export type CommandName = Command['name'];

export type ReadingsMessage = z.infer<typeof ReadingsMessage>;
export type TelemetryMessage = z.infer<typeof TelemetryMessage>;
export type ResultsMessage = z.infer<typeof ResultsMessage>;
export type AccessMessage = z.infer<typeof AccessMessage>;
export type LockEventsMessage = z.infer<typeof LockEventsMessage>;

/** The one map from topic kind to payload type, shared by gateway and cloud. */
export type TopicPayloads = {
  state: GatewayState;
  deviceAvailability: DeviceAvailability;
  'up/readings': ReadingsMessage;
  'up/telemetry': TelemetryMessage;
  'up/results': ResultsMessage;
  'up/access': AccessMessage;
  'up/locks': LockEventsMessage;
  'down/commands': Command;
  'shared/door-keys': DoorKeySet;
  'shared/door-revocations': DoorRevocations;
};

export const UPLINK_SCHEMAS = { readings: ReadingsMessage, telemetry: TelemetryMessage, results: ResultsMessage, access: AccessMessage, locks: LockEventsMessage } as const satisfies Record<UplinkChannel, z.ZodType>;

export type RejectReason = 'oversized' | 'malformed-json' | 'unsupported-version' | 'invalid-schema' | 'wrong-topic' | 'gateway-mismatch';
export type Decoded<T> = { ok: true; message: T } | { ok: false; reason: RejectReason; detail: string };

/**
 * Parses a payload against a schema, naming why it was refused. Pure: callers count, log and keep the
 * rejection.
 *
 * @example
 * const decoded = decodePayload(ReadingsMessage, payloadBuffer);
 * if (!decoded.ok) metrics.rejected.inc({ reason: decoded.reason });
 */
export function decodePayload<T extends z.ZodType>(schema: T, payload: Uint8Array): Decoded<z.infer<T>> {
  if (payload.byteLength > MAX_PAYLOAD_BYTES) return { ok: false, reason: 'oversized', detail: `${payload.byteLength} bytes > ${MAX_PAYLOAD_BYTES}` };
  let json: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: 'malformed-json', detail: (error as Error).message.slice(0, 200) };
  }
  // PostgreSQL text and jsonb cannot hold U+0000: a message carrying one would fail at the database on
  // every retry and block the messages behind it, so it is refused here, once.
  if (/\\u0000/i.test(text)) return { ok: false, reason: 'invalid-schema', detail: 'contains a NUL character (U+0000)' };
  if (json && typeof json === 'object' && 'v' in json && json.v !== SCHEMA_VERSION) {
    return { ok: false, reason: 'unsupported-version', detail: `schema version ${JSON.stringify((json as { v: unknown }).v).slice(0, 20)} is not ${SCHEMA_VERSION}` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    return { ok: false, reason: 'invalid-schema', detail: parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ') };
  }
  return { ok: true, message: parsed.data };
}

/** Serialises a message; the type parameter ties the payload to its topic kind at compile time. */
export function encodePayload<K extends keyof TopicPayloads>(_kind: K, message: TopicPayloads[K]): string {
  return JSON.stringify(message);
}
