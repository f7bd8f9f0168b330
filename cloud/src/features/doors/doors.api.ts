import { z } from '@hono/zod-openapi';
import { DENIAL_REASONS, MAX_OPEN_TOKEN_CHARS } from '@estate/protocol';
import { Cursor, Limit } from '../../http/paging.js';
import { humanText } from '../../http/route-kit.js';
import { ACCESS_METHODS, ACCESS_OUTCOMES, DOOR_ACCESS_LEVELS, DOOR_KINDS, HOLDER_KINDS } from './doors.schema.js';

const Uuid = z.uuid();
const Instant = z.iso.datetime({ offset: true });
const DevicePublicKey = z.string().min(40).max(100).openapi({ description: 'The phone’s ECDSA P-256 public key, base64url: WebCrypto `exportKey("raw")` (65 bytes) or compressed (33 bytes)' });

export const DoorParams = z.object({ doorId: Uuid.openapi({ param: { name: 'doorId', in: 'path' } }) });

export const DoorCreate = z
  .strictObject({
    name: humanText(100),
    kind: z.enum(DOOR_KINDS).openapi({ description: '`community-gate`: every resident; `building-entrance`: residents of `buildingId`; `other`: staff and passes naming it' }),
    buildingId: Uuid.nullable().optional(),
    gatewayId: Uuid,
    lock: z.strictObject({
      id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" and "-" only (1-64)'),
      address: z.string().regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/, 'a BLE address such as AA:BB:CC:DD:EE:FF'),
    }),
    holdMs: z.number().int().min(1000).max(60_000).optional(),
    code: z.number().int().min(1).max(32767).optional().openapi({ description: 'Community-wide door number; the next free one when absent' }),
  })
  .openapi('DoorCreate');

export const Door = z
  .object({
    id: Uuid,
    communityId: Uuid,
    code: z.number().int(),
    name: z.string(),
    kind: z.enum(DOOR_KINDS),
    buildingId: Uuid.nullable(),
    gatewayId: Uuid.nullable(),
    groups: z.array(z.number().int()),
    lock: z.object({
      id: z.string(),
      address: z.string(),
      available: z.boolean().nullable(),
      unavailableReason: z.string().nullable(),
      battery: z.number().int().nullable(),
      doorOpen: z.boolean().nullable(),
      tamper: z.boolean().nullable(),
      jammed: z.boolean().nullable(),
      statusAt: z.string().nullable(),
    }),
    holdMs: z.number().int(),
    createdAt: z.string(),
  })
  .openapi('Door');

export const DoorCreated = z.object({ door: Door, lockSecret: z.string().openapi({ description: 'The lock’s 16-byte secret, base64url, shown this once: provision it into the lock' }) }).openapi('DoorCreated');

export const KeyDoor = z.object({ id: Uuid, code: z.number().int(), name: z.string() });
export const VirtualKeyView = z
  .object({
    credentialId: Uuid,
    credential: z.string().openapi({ description: 'The signed key, base64url (docs/doors.md has its bytes)' }),
    communityId: Uuid,
    holderKind: z.enum(HOLDER_KINDS),
    houseId: Uuid.nullable(),
    keyId: z.string(),
    validFrom: z.string(),
    validUntil: z.string(),
    useLimit: z.number().int().openapi({ description: '0 = unlimited' }),
    uses: z.number().int(),
    revokedAt: z.string().nullable(),
    revokeReason: z.string().nullable(),
    doors: z.array(KeyDoor).openapi({ description: 'The doors the key opens now, with the codes an open token names' }),
  })
  .openapi('VirtualKey');

export const KeysRequest = z.strictObject({ devicePublicKey: DevicePublicKey }).openapi('KeysRequest');
export const StaffKeyRequest = z.strictObject({ communityId: Uuid, devicePublicKey: DevicePublicKey }).openapi('StaffKeyRequest');
export const RevokeAllRequest = z.strictObject({ reason: z.enum(['phone-lost', 'key-revoked']) }).openapi('RevokeAllRequest');
export const DoorAccessUpdate = z.strictObject({ access: z.enum(DOOR_ACCESS_LEVELS) }).openapi('DoorAccessUpdate');

export const OpenRequest = z.strictObject({ token: z.string().min(1).max(MAX_OPEN_TOKEN_CHARS + 16).openapi({ description: 'The open token, base64url, signed by the phone’s device key for this door, method online' }) }).openapi('OpenRequest');
export const OpenResponse = z
  .object({
    outcome: z.literal('opened'),
    attemptId: Uuid,
    doorId: Uuid,
    lock: z.unknown().openapi({ description: 'The lock’s status after opening (battery, door sensor)' }),
  })
  .openapi('OpenResponse');

export const PassCreate = z
  .strictObject({
    visitorName: humanText(60),
    validFrom: Instant.optional(),
    validUntil: Instant,
    uses: z.number().int().min(1).max(50),
    doorIds: z.array(Uuid).max(20).optional().openapi({ description: 'Only these doors; all the member’s doors when absent' }),
  })
  .openapi('VisitorPassCreate');
export const VisitorPass = z
  .object({
    id: Uuid,
    houseId: Uuid,
    visitorName: z.string(),
    validFrom: z.string(),
    validUntil: z.string(),
    uses: z.number().int(),
    used: z.number().int(),
    claimed: z.boolean(),
    revoked: z.boolean(),
    createdAt: z.string(),
  })
  .openapi('VisitorPass');
export const PassCreated = z.object({ pass: VisitorPass, link: z.string().openapi({ description: 'Share this link (or its QR code) with the visitor; it carries the claim secret' }) }).openapi('VisitorPassCreated');
export const PassClaim = z.strictObject({ secret: z.string().min(10).max(100), devicePublicKey: DevicePublicKey }).openapi('VisitorPassClaim');

export const AccessQuery = z.object({
  door: Uuid.optional(),
  outcome: z.enum(ACCESS_OUTCOMES).optional(),
  method: z.enum(ACCESS_METHODS).optional(),
  holderKind: z.enum(HOLDER_KINDS).optional(),
  reason: z.string().max(64).optional().openapi({ description: `A denial reason (${DENIAL_REASONS.join(', ')}) or a lock error code` }),
  from: Instant.optional(),
  to: Instant.optional(),
  limit: Limit,
  cursor: Cursor,
});
export const AccessEvent = z
  .object({
    attemptId: Uuid,
    doorId: Uuid.nullable(),
    doorName: z.string().nullable(),
    method: z.enum(ACCESS_METHODS),
    outcome: z.enum(ACCESS_OUTCOMES),
    reason: z.string().nullable(),
    detail: z.string().nullable(),
    credentialId: Uuid.nullable(),
    holderKind: z.enum(HOLDER_KINDS).nullable(),
    holderId: Uuid.nullable(),
    readerId: z.string().nullable(),
    decidedBy: z.enum(['cloud', 'gateway']),
    requestedAt: z.string(),
    decidedAt: z.string().nullable(),
    receivedAt: z.string(),
  })
  .openapi('DoorAccessEvent');

export const RotateResult = z.object({ keyId: z.string(), keys: z.array(z.object({ keyId: z.string(), createdAt: z.string(), retiredAt: z.string().nullable(), notAfter: z.string().nullable() })) }).openapi('DoorSigningKeys');

export const CredentialQuery = z.object({
  holderKind: z.enum(HOLDER_KINDS).optional(),
  holderId: Uuid.optional(),
  live: z.enum(['true', 'false']).optional().openapi({ description: 'true: only keys neither revoked nor expired' }),
  limit: Limit,
  cursor: Cursor,
});

export const LockEventQuery = z.object({ door: Uuid.optional(), kind: z.enum(['door-opened', 'door-closed', 'tamper', 'jam', 'battery-low']).optional(), limit: Limit, cursor: Cursor });
export const LockEventView = z
  .object({ doorId: Uuid.nullable(), doorName: z.string().nullable(), lockId: z.string(), kind: z.string(), at: z.string(), battery: z.number().int(), status: z.unknown() })
  .openapi('LockEvent');
