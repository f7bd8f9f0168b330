import { stringify } from 'csv-stringify/sync';
import { eq } from 'drizzle-orm';
import type { AppDeps } from '../../context.js';
import { maskIdNumber, maskPhone } from '../../crypto/pii.js';
import { buildings, houses, units } from '../estate/estate.schema.js';
import { rosterOwners } from '../people/people.schema.js';
import { STATUS_LABELS_ZH } from './roster-columns.js';

/** Same columns and header words as an import file, so a clerk recognises the layout. */
export const EXPORT_HEADER = ['楼栋', '单元', '房号', '楼层', '建筑面积', '状态', '业主姓名', '身份证号', '手机号', '主业主'];

export type RosterExport = { csv: string; houses: number; owners: number };

/**
 * The community's houses and owners as CSV, one row per owner (a house without owner gets one row).
 * ID and phone numbers are masked (1101**********4518, 138****1234): an export leaves the system in
 * a spreadsheet, and nobody reading one needs the whole number. A UTF-8 BOM makes Excel on Windows
 * read the file as UTF-8 rather than GBK.
 *
 * @example
 * const { csv } = await exportRosterCsv(deps, communityId);
 */
export async function exportRosterCsv(deps: Pick<AppDeps, 'db' | 'vault'>, communityId: string): Promise<RosterExport> {
  const rows = await deps.db
    .select({
      houseId: houses.id,
      building: buildings.name,
      unit: units.name,
      room: houses.number,
      floor: houses.floor,
      area: houses.floorAreaM2,
      status: houses.status,
      ownerName: rosterOwners.name,
      idNumberEnc: rosterOwners.idNumberEnc,
      phoneEnc: rosterOwners.phoneEnc,
      isPrimary: rosterOwners.isPrimary,
    })
    .from(houses)
    .innerJoin(units, eq(units.id, houses.unitId))
    .innerJoin(buildings, eq(buildings.id, units.buildingId))
    .leftJoin(rosterOwners, eq(rosterOwners.houseId, houses.id))
    .where(eq(houses.communityId, communityId));

  // Natural order (2 before 10), as the buildings stand, not as strings sort.
  const collator = new Intl.Collator('zh-CN', { numeric: true });
  rows.sort(
    (a, b) =>
      collator.compare(a.building, b.building) ||
      collator.compare(a.unit, b.unit) ||
      collator.compare(a.room, b.room) ||
      Number(b.isPrimary ?? false) - Number(a.isPrimary ?? false),
  );
  const records = rows.map((r) => [
    spreadsheetSafe(r.building),
    spreadsheetSafe(r.unit),
    spreadsheetSafe(r.room),
    String(r.floor),
    r.area,
    STATUS_LABELS_ZH[r.status],
    spreadsheetSafe(r.ownerName ?? ''),
    r.idNumberEnc ? maskIdNumber(deps.vault.decrypt(r.idNumberEnc, 'id_number')) : '',
    r.phoneEnc ? maskPhone(deps.vault.decrypt(r.phoneEnc, 'phone')) : '',
    r.ownerName === null ? '' : r.isPrimary ? '是' : '否',
  ]);
  const csv = `\uFEFF${stringify([EXPORT_HEADER, ...records], { record_delimiter: 'windows' })}`;
  return { csv, houses: new Set(rows.map((r) => r.houseId)).size, owners: rows.filter((r) => r.ownerName !== null).length };
}

/**
 * Names are stored verbatim, so one may start with "=" or "+"; Excel would run it as a formula
 * (OWASP, "CSV Injection"). A leading apostrophe makes Excel show it as the text it is.
 */
export function spreadsheetSafe(text: string): string {
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}
