import { z } from '@hono/zod-openapi';
import { METER_MODELS } from '@estate/protocol';
import { Cursor, Limit } from '../../http/paging.js';
import { humanText } from '../../http/route-kit.js';
import { METER_KINDS, READING_ANOMALIES, READING_SOURCES } from './meters.schema.js';

// Request and response shapes of the meter API, shared by meters.routes.ts and readings.routes.ts.

const Instant = z.iso.datetime({ offset: true });
/** A counter value as people type it: numeric(20, 6) holds 14 digits before the point and 6 after. */
export const HandValue = z
  .string()
  .trim()
  .regex(/^\d{1,14}(\.\d{1,6})?$/, 'a non-negative decimal with at most 6 decimals, e.g. "1234.56"')
  .openapi({ example: '1234.56' });
const Id = (name: string) => z.uuid().openapi({ param: { name, in: 'path' } });

export const MeterParams = z.object({ meterId: Id('meterId') });
export const HouseParams = z.object({ communityId: Id('communityId'), houseId: Id('houseId') });
export const MyHouseParams = z.object({ houseId: Id('houseId') });

export const Meter = z
  .object({
    id: z.uuid(),
    communityId: z.uuid(),
    houseId: z.uuid().nullable().openapi({ description: 'null: a shared-area meter' }),
    kind: z.enum(METER_KINDS),
    model: z.string(),
    serialNo: z.string(),
    billingQuantity: z.string().openapi({ example: 'energy_import' }),
    unit: z.string().openapi({ example: 'kWh' }),
    gatewayId: z.uuid().nullable(),
    deviceId: z.string().nullable(),
    busId: z.string().nullable(),
    modbusUnitId: z.number().int().nullable(),
    pollSeconds: z.number().int(),
    installedAt: z.iso.datetime(),
    removedAt: z.iso.datetime().nullable(),
    replacedById: z.uuid().nullable(),
  })
  .openapi('Meter');

export const Reading = z
  .object({
    id: z.number().int(),
    meterId: z.uuid(),
    readAt: z.iso.datetime(),
    value: z.string().openapi({ description: 'The billing quantity, exact decimal', example: '1234.56' }),
    values: z.record(z.string(), z.object({ value: z.string(), unit: z.string() })),
    source: z.enum(READING_SOURCES),
    anomalies: z.array(z.enum(READING_ANOMALIES)).openapi({ description: 'Flags billing must not silently use: backwards, rollover, spike, gap' }),
    gatewaySeq: z.number().int().nullable(),
    enteredBy: z.uuid().nullable(),
    receivedAt: z.iso.datetime(),
  })
  .openapi('MeterReading');

export const MeterQuery = z.object({
  house: z.uuid().optional().openapi({ description: 'Only the meters of this house' }),
  shared: z.enum(['true', 'false']).optional().openapi({ description: 'true: only shared-area meters' }),
  kind: z.enum(METER_KINDS).optional(),
  includeRemoved: z.enum(['true', 'false']).default('false').openapi({ description: 'true: replaced meters too' }),
  limit: Limit,
  cursor: Cursor,
});

export const MeterCreate = z
  .strictObject({
    houseId: z.uuid().optional(),
    shared: z.literal(true).optional().openapi({ description: 'true for a shared-area meter (no house)' }),
    kind: z.enum(METER_KINDS),
    model: z.string().refine((m) => METER_MODELS.has(m), `must be one of ${[...METER_MODELS.keys()].join(', ')}`),
    serialNo: humanText(64),
    gatewayId: z.uuid().optional(),
    deviceId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, "_" and "-" only (1-64)').optional(),
    busId: humanText(64).optional(),
    modbusUnitId: z.number().int().min(1).max(247).optional().openapi({ description: 'Modbus slave address (1-247)' }),
    pollSeconds: z.number().int().min(10).max(31 * 86400).default(900),
    installedAt: Instant.optional(),
  })
  .superRefine((b, ctx) => {
    if ((b.houseId === undefined) === (b.shared === undefined)) ctx.addIssue({ code: 'custom', path: ['houseId'], message: 'give either houseId or shared: true' });
    if ((b.gatewayId === undefined) !== (b.deviceId === undefined)) ctx.addIssue({ code: 'custom', path: ['deviceId'], message: 'gatewayId and deviceId go together' });
    const model = METER_MODELS.get(b.model);
    if (model && model.kind !== b.kind) ctx.addIssue({ code: 'custom', path: ['model'], message: `${b.model} is a ${model.kind} meter, not ${b.kind}` });
    if (model && !model.points.some((p) => p.cumulative)) ctx.addIssue({ code: 'custom', path: ['model'], message: `${b.model} has no cumulative point to bill from` });
  })
  .openapi('MeterCreate');

export const MeterReplace = z
  .strictObject({
    newSerialNo: humanText(64),
    finalReading: HandValue.optional().openapi({ description: 'The old meter\'s last reading, stored on it at `at`' }),
    newInitialReading: HandValue.openapi({ description: 'The new meter\'s reading at `at`' }),
    at: Instant.openapi({ description: 'When the meter was swapped' }),
  })
  .openapi('MeterReplace');

export const ManualReading = z
  .strictObject({ readAt: Instant, value: HandValue, note: humanText(500).optional().openapi({ description: 'Kept in the audit log' }) })
  .openapi('ManualReading');

export const ReadingQuery = z.object({ from: Instant.optional(), to: Instant.optional().openapi({ description: 'Exclusive' }), limit: Limit, cursor: Cursor });

export const HouseReadingQuery = z.object({
  from: Instant.optional().openapi({ description: 'Default: 31 days before `to`' }),
  to: Instant.optional().openapi({ description: 'Exclusive; default now' }),
  kind: z.enum(METER_KINDS).optional(),
});

export const HouseReadings = z
  .object({
    houseId: z.uuid(),
    from: z.iso.datetime(),
    to: z.iso.datetime(),
    meters: z.array(z.object({ meter: Meter, readings: z.array(Reading), truncated: z.boolean().openapi({ description: 'More readings than the per-meter cap; narrow the range' }) })),
  })
  .openapi('HouseReadings');

export const Rejection = z
  .object({
    id: z.number().int(),
    receivedAt: z.iso.datetime(),
    gatewayId: z.uuid().nullable(),
    topic: z.string(),
    reason: z.string().openapi({ example: 'unknown-meter' }),
    detail: z.string(),
    payload: z.string().openapi({
      description: 'What the gateway sent: the whole message (at most 256 KiB) when the message was refused; the refused reading (its first 4 KiB) when the ingest refused one reading of it (unknown meter, …)',
    }),
  })
  .openapi('IngestRejection');

export const ImportRowError = z.object({ row: z.number().int(), column: z.string().optional(), reason: z.string(), path: z.string(), message: z.string() }).openapi('ReadingImportRowError');

export const ImportResult = z
  .object({ imported: z.number().int(), meters: z.number().int(), flagged: z.number().int().openapi({ description: 'Imported readings that carry an anomaly flag' }) })
  .openapi('ReadingImportResult');
