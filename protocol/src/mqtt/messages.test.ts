import { describe, expect, it } from 'vitest';
import { Command, MAX_PAYLOAD_BYTES, ReadingsMessage, decodePayload, encodePayload, type ReadingsMessage as Readings } from './messages.js';

const bytes = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

const good: Readings = {
  v: 1,
  gatewayId: 'gw-1',
  sentAt: '2026-11-25T08:00:00.000Z',
  items: [{ seq: 41, meterId: 'm-101', readAt: '2026-11-25T07:45:00.000Z', values: { energy_import: { value: '12345.67', unit: 'kWh' } } }],
};

describe('decodePayload', () => {
  it('accepts a valid readings batch and round-trips it', () => {
    const decoded = decodePayload(ReadingsMessage, bytes(encodePayload('up/readings', good)));
    expect(decoded).toEqual({ ok: true, message: good });
  });

  it.each([
    ['malformed-json', bytes('{"v":1,'), 'malformed-json'],
    ['not UTF-8', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 'malformed-json'],
    ['a future version', bytes({ ...good, v: 2 }), 'unsupported-version'],
    ['a float instead of a decimal string', bytes({ ...good, items: [{ ...good.items[0], values: { energy_import: { value: 12.5, unit: 'kWh' } } }] }), 'invalid-schema'],
    ['an unknown field', bytes({ ...good, extra: true }), 'invalid-schema'],
    ['a zero sequence number', bytes({ ...good, items: [{ ...good.items[0], seq: 0 }] }), 'invalid-schema'],
    ['an empty batch', bytes({ ...good, items: [] }), 'invalid-schema'],
    ['an oversized payload', new Uint8Array(MAX_PAYLOAD_BYTES + 1), 'oversized'],
    ['an escaped NUL in a unit', bytes(JSON.stringify({ ...good, items: [{ ...good.items[0], values: { energy_import: { value: '1.5', unit: 'kWh\u0000' } } }] })), 'invalid-schema'],
  ])('rejects %s as %s', (_name, payload, reason) => {
    const decoded = decodePayload(ReadingsMessage, payload);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.reason).toBe(reason);
      expect(decoded.detail.length).toBeGreaterThan(0);
    }
  });

  it('keeps command params tied to the command name', () => {
    const base = { v: 1, commandId: '3f6b2a8e-6f3c-4d0e-9a35-2f1a7f6c0b11', issuedAt: '2026-11-25T08:00:00Z', expiresAt: '2026-11-25T08:01:00Z' };
    expect(decodePayload(Command, bytes({ ...base, name: 'meter.read-now', params: { meterId: 'm-1' } })).ok).toBe(true);
    expect(decodePayload(Command, bytes({ ...base, name: 'meter.read-now', params: {} })).ok).toBe(false);
    expect(decodePayload(Command, bytes({ ...base, name: 'self-destruct', params: {} })).ok).toBe(false);
  });
});
