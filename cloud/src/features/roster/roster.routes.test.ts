import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRosterCsv } from '../../../../fixtures/roster-generator.js';
import { createCompany, createStaff } from '../../../test/actors.js';
import { createHarness, type Harness } from '../../../test/harness.js';
import { auditEvents } from '../audit/audit.schema.js';
import { houses } from '../estate/estate.schema.js';
import { rosterOwners } from '../people/people.schema.js';
import { rosterImports } from './roster.schema.js';
import { HEADER_EN, csv, idNumber, xlsx } from './roster.test-helpers.js';

let h: Harness;
let A: string;
let B: string;
let C: string;
let service: Awaited<ReturnType<typeof createStaff>>;
let admin: Awaited<ReturnType<typeof createStaff>>;

beforeAll(async () => {
  h = await createHarness();
  const company = await createCompany(h, ['A', 'B', 'C']);
  A = company.communities['A']!.id;
  B = company.communities['B']!.id;
  C = company.communities['C']!.id;
  service = await createStaff(h, company.company.id, 'customer_service', [A]);
  admin = await createStaff(h, company.company.id, 'super_admin');
});
afterAll(() => h?.close());

type Upload = { dryRun?: boolean; headers?: Record<string, string>; name?: string };

function upload(communityId: string, bytes: Uint8Array, options: Upload = {}) {
  const form = new FormData();
  form.set('file', new File([bytes], options.name ?? 'roster.csv'));
  return h.app.request(`/v1/communities/${communityId}/roster-imports?dryRun=${options.dryRun ?? false}`, {
    method: 'POST',
    headers: options.headers ?? admin.headers,
    body: form,
  });
}

async function counts(communityId: string) {
  const [row] = await h.deps.db
    .select({ houses: sql<number>`count(distinct ${houses.id})::int`, owners: sql<number>`count(${rosterOwners.id})::int` })
    .from(houses)
    .leftJoin(rosterOwners, eq(rosterOwners.houseId, houses.id))
    .where(eq(houses.communityId, communityId));
  return row!;
}

const good = (room: number, seq: number, name = `业主${seq}`) => `1,1,${room},1,90.5,,${name},${idNumber(seq)},1381234${String(seq).padStart(4, '0')},`;

describe('roster import over HTTP', () => {
  it('dry run lists every bad row with its row number and writes nothing', async () => {
    const file = csv(good(101, 1), '1,1,102,x,90,,,,,', good(103, 3), `1,1,104,1,90,,王五,${idNumber(4).slice(0, 17)}0,,`, good(105, 5), '1,1,106,1,0,,,,,');
    const res = await upload(A, file, { dryRun: true });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = (await res.json()) as { type: string; errors: { row: number; column: string }[]; importId: string };
    expect(body.type).toBe('/problems/roster-invalid');
    expect(body.errors.map((e) => [e.row, e.column])).toEqual([
      [3, '楼层/floor'],
      [5, '身份证号/id_number'],
      [7, '建筑面积/area_m2'],
    ]);
    expect(await counts(A)).toEqual({ houses: 0, owners: 0 });

    const valid = await upload(A, csv(good(101, 1), good(102, 2), '1,1,103,1,80,vacant,,,,'), { dryRun: true });
    expect(valid.status).toBe(200);
    const dry = (await valid.json()) as { status: string; dryRun: boolean; summary: { houses: { created: number }; owners: { created: number } } };
    expect(dry).toMatchObject({ status: 'succeeded', dryRun: true, summary: { houses: { created: 3 }, owners: { created: 2 } } });
    expect(await counts(A)).toEqual({ houses: 0, owners: 0 });
  });

  it('imports nothing when one row among good ones is bad, and the import resource says why', async () => {
    const lines = Array.from({ length: 50 }, (_, i) => good(101 + i, 100 + i));
    lines[37] = '1,1,999,1,90,,某人,110101199002301234,,';
    const res = await upload(A, csv(...lines));
    expect(res.status).toBe(422);
    const location = res.headers.get('location')!;
    expect(await counts(A)).toEqual({ houses: 0, owners: 0 });
    const resource = (await (await h.app.request(location, { headers: admin.headers })).json()) as { status: string; errors: { row: number }[]; totalRows: number };
    expect(resource).toMatchObject({ status: 'failed', totalRows: 50, errors: [{ row: 39 }] });
  });

  it('imports all rows, and importing the same file again changes nothing', async () => {
    const file = csv(good(101, 201), `1,1,101,1,90.5,,配偶,${idNumber(202)},,`, good(102, 203), '2,1,101,5,120,unsold,,,,');
    const first = await upload(A, file);
    expect(first.status).toBe(200);
    expect(((await first.json()) as { summary: unknown }).summary).toEqual({
      rows: 4,
      buildings: { created: 2, existing: 0 },
      units: { created: 2, existing: 0 },
      houses: { created: 3, updated: 0, unchanged: 0 },
      owners: { created: 3, updated: 0, unchanged: 0 },
    });
    const before = await counts(A);
    const again = await upload(A, file);
    expect(((await again.json()) as { summary: unknown }).summary).toEqual({
      rows: 4,
      buildings: { created: 0, existing: 2 },
      units: { created: 0, existing: 2 },
      houses: { created: 0, updated: 0, unchanged: 3 },
      owners: { created: 0, updated: 0, unchanged: 3 },
    });
    expect(await counts(A)).toEqual(before);

    // The spouse becomes primary and the area is corrected: two owners and one house updated, in place.
    const changed = csv(`1,1,101,1,91.25,,业主201,${idNumber(201)},13812340201,否`, `1,1,101,1,91.25,,配偶,${idNumber(202)},,是`, good(102, 203), '2,1,101,5,120,unsold,,,,');
    const third = (await (await upload(A, changed)).json()) as { summary: { houses: unknown; owners: unknown } };
    expect(third.summary.houses).toEqual({ created: 0, updated: 1, unchanged: 2 });
    expect(third.summary.owners).toEqual({ created: 0, updated: 2, unchanged: 1 });
    const owners = await h.deps.db
      .select({ name: rosterOwners.name, isPrimary: rosterOwners.isPrimary, idEnc: rosterOwners.idNumberEnc })
      .from(rosterOwners)
      .innerJoin(houses, eq(houses.id, rosterOwners.houseId))
      .where(and(eq(houses.communityId, A), eq(houses.code, '1-1-101')));
    expect(owners.filter((o) => o.isPrimary).map((o) => o.name)).toEqual(['配偶']);
    // Encrypted at rest: the ciphertext is not the number, and it opens to the number.
    expect(owners[0]!.idEnc).not.toContain('310104');
    expect([idNumber(201), idNumber(202)]).toContain(h.deps.vault.decrypt(owners[0]!.idEnc, 'id_number'));
  });

  it('stores injection strings verbatim', async () => {
    const names = ["Robert'); DROP TABLE houses;--", '<script>alert("x")</script>', '=HYPERLINK("http://evil")'];
    const res = await upload(B, csv(...names.map((n, i) => `9,1,${101 + i},1,90,,"${n.replaceAll('"', '""')}",${idNumber(300 + i)},,`)), {
      headers: admin.headers,
    });
    expect(res.status).toBe(200);
    const stored = await h.deps.db
      .select({ name: rosterOwners.name })
      .from(rosterOwners)
      .innerJoin(houses, eq(houses.id, rosterOwners.houseId))
      .where(eq(houses.communityId, B));
    expect(stored.map((s) => s.name).sort()).toEqual([...names].sort());
    expect((await counts(B)).houses).toBe(3);
  });

  it.each([
    ['GBK text', () => Buffer.from([0xc2, 0xa5, 0xb6, 0xb0, 0x2c, 0xb5, 0xa5, 0xd4, 0xaa, 0x0a, 0x31, 0x2c, 0x31, 0x0a]), 'roster.csv', /GBK\/GB18030 — save as 'CSV UTF-8'/],
    ['an empty file', () => Buffer.alloc(0), 'roster.csv', /empty/],
    ['wrong headers', () => Buffer.from('name,phone\n王伟,13812345678\n'), 'roster.csv', /missing required columns: 楼栋\/building, 单元\/unit/],
    [
      'an XLSX formula',
      () => xlsx([HEADER_EN.split(','), ['1', '1', '101', 1, { formula: '1+89' }, '', '', '', '', '']]),
      'roster.xlsx',
      /formulas in E2/,
    ],
    [
      'XLSX merged cells',
      () => xlsx([HEADER_EN.split(','), ['1', '1', '101', 1, 90, '', '', '', '', ''], ['', '1', '102', 1, 90, '', '', '', '', '']], (s) => s.mergeCells('A2:A3')),
      'roster.xlsx',
      /merged cells \(A2:A3\)/,
    ],
    ['a text file named .xlsx', () => Buffer.from('building\n1\n'), 'roster.xlsx', /not an Excel workbook/],
  ])('refuses %s with a clear problem and writes nothing', async (_what, make, name, detail) => {
    const before = await counts(A);
    const res = await upload(A, await make(), { name });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = (await res.json()) as { type: string; detail: string };
    expect(body.type).toBe('/problems/unreadable-file');
    expect(body.detail).toMatch(detail);
    expect(await counts(A)).toEqual(before);
  });

  it('refuses a body that is not multipart and a form without the file', async () => {
    const json = await h.app.request(`/v1/communities/${A}/roster-imports`, { method: 'POST', headers: { ...admin.headers, 'content-type': 'application/json' }, body: '{}' });
    expect(json.status).toBe(415);
    const form = new FormData();
    form.set('other', 'x');
    const missing = await h.app.request(`/v1/communities/${A}/roster-imports`, { method: 'POST', headers: admin.headers, body: form });
    expect(missing.status).toBe(400);
  });

  it('answers 202 at once for Prefer: respond-async, and the resource shows progress to the end', async () => {
    const res = await upload(C, Buffer.from(generateRosterCsv(1500, 7)), { headers: { ...admin.headers, prefer: 'respond-async' } });
    expect(res.status).toBe(202);
    expect(res.headers.get('retry-after')).toBe('1');
    const location = res.headers.get('location')!;
    expect(location).toMatch(/\/roster-imports\/[0-9a-f-]{36}$/);
    const seen: number[] = [];
    let resource: { status: string; processedRows: number; totalRows: number } = (await res.json()) as never;
    expect(['queued', 'running']).toContain(resource.status);
    for (let i = 0; i < 600 && resource.status !== 'succeeded' && resource.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 25));
      resource = (await (await h.app.request(location, { headers: admin.headers })).json()) as never;
      seen.push(resource.processedRows);
    }
    expect(resource.status).toBe('succeeded');
    expect(resource.processedRows).toBe(resource.totalRows);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
  });
});

describe('no PII in problems, stored failures or audit details', () => {
  const ID = '11010519491231002X';
  const PHONE = '13912345678';
  const clear = (text: string) => {
    expect(text).not.toContain(ID);
    expect(text).not.toContain(PHONE);
    expect(text).not.toMatch(/\d{17}[\dXx]/);
    expect(text).not.toMatch(/1[3-9]\d{9}/);
  };

  it.each([
    ['a CSV without its header row', `1,1,101,1,90,,张三,${ID},${PHONE},是\n1,1,102,1,90,,李四,${ID},${PHONE},\n`],
    ['a CSV with a malformed quote', `${HEADER_EN}\n1,1,101,1,90,,"张三"x${ID},${PHONE},\n`],
    ['a CSV with a stray opening quote', `${HEADER_EN}\n1,1,101,1,90,,张三,${ID}"x",${PHONE},\n`],
    ['a CSV with a shifted row', `${HEADER_EN}\n1,1,101,${PHONE},${ID},${ID},张三,${ID},${PHONE},${PHONE}\n`],
  ])('%s: the 422, the import row and the audit event quote no ID or phone number', async (_what, text) => {
    const res = await upload(A, Buffer.from(text));
    expect(res.status).toBe(422);
    const body = (await res.json()) as { detail?: string; errors?: unknown[]; importId: string };
    expect(body.detail).toBeTruthy();
    clear(JSON.stringify(body));
    const [row] = await h.deps.db.select().from(rosterImports).where(eq(rosterImports.id, body.importId));
    expect(row!.status).toBe('failed');
    clear(JSON.stringify([row!.failure, row!.errors]));
    const events = await h.deps.db.select().from(auditEvents).where(eq(auditEvents.targetId, body.importId));
    expect(events.length).toBe(1);
    clear(JSON.stringify(events[0]!.details));
  });
});

describe('who may import and export', () => {
  it('refuses customer service of community A importing into B, a technician, and an anonymous caller', async () => {
    const intoB = await upload(B, csv(good(101, 1)), { headers: service.headers });
    expect(intoB.status).toBe(403);
    const company = await createCompany(h, ['T']);
    const tech = await createStaff(h, company.company.id, 'technician', [company.communities['T']!.id]);
    const byTech = await upload(company.communities['T']!.id, csv(good(101, 1)), { headers: tech.headers });
    expect(byTech.status).toBe(403);
    expect(((await byTech.json()) as { detail: string }).detail).toMatch(/roster:import/);
    expect((await upload(A, csv(good(101, 1)), { headers: {} })).status).toBe(401);
    const exportByTech = await h.app.request(`/v1/communities/${company.communities['T']!.id}/roster-export.csv`, { headers: tech.headers });
    expect(exportByTech.status).toBe(403);
    expect((await h.app.request(`/v1/communities/${B}/roster-export.csv`, { headers: service.headers })).status).toBe(403);
  });

  it('exports houses and owners with ID and phone numbers masked, and audits the export and the imports', async () => {
    const res = await h.app.request(`/v1/communities/${A}/roster-export.csv`, { headers: service.headers });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    const bytes = Buffer.from(await res.arrayBuffer());
    // The BOM is what makes Excel on Windows read the file as UTF-8 (Response.text() would drop it).
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.toString('utf8');
    expect(text).toMatch(/^\uFEFF楼栋,单元,房号/);
    expect(text).not.toContain(idNumber(201));
    expect(text).not.toContain('13812340201');
    expect(text).toContain(`${idNumber(201).slice(0, 4)}**********${idNumber(201).slice(-4)}`);
    expect(text).toContain('138****0201');
    expect(text).toMatch(/2,1,101,5,120\.00,未售,,,,/);

    const events = await h.deps.db.select().from(auditEvents).where(eq(auditEvents.communityId, A));
    const exportEvent = events.find((e) => e.action === 'roster.export');
    expect(exportEvent).toMatchObject({ actorKind: 'staff', actorId: service.staff.id, outcome: 'success' });
    expect(events.filter((e) => e.action === 'roster.import' && e.outcome === 'success').length).toBeGreaterThanOrEqual(3);
    expect(events.some((e) => e.action === 'roster.import' && e.outcome === 'failure')).toBe(true);
    expect(JSON.stringify(events)).not.toContain(idNumber(201));
  });

  it('describes the roster routes in the OpenAPI document', async () => {
    const doc = (await (await h.app.request('/openapi.json')).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/v1/communities/{communityId}/roster-imports'] ?? {})).toContain('post');
    expect(doc.paths['/v1/communities/{communityId}/roster-imports/{importId}']).toBeDefined();
    expect(doc.paths['/v1/communities/{communityId}/roster-export.csv']).toBeDefined();
  });
});
