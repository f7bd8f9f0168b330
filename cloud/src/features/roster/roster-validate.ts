import { normalizeIdNumber, normalizePhone, redactDigits } from '../../crypto/pii.js';
import { Problem } from '../../http/problem.js';
import type { HouseStatus } from '../estate/estate.schema.js';
import { normalizeHouseCode } from '../estate/house-code.js';
import { COLUMN_LABELS, REQUIRED_COLUMNS, ROSTER_COLUMNS, columnForHeader, parsePrimary, parseStatus, type RosterColumn } from './roster-columns.js';
import type { RosterRow, RosterTable } from './roster-file.js';
import type { RosterRowError } from './roster.schema.js';

export type PlannedOwner = { row: number; name: string; idNumber: string; phone: string | null; isPrimary: boolean };

export type PlannedHouse = {
  /** The first row that names the house; conflicts with the database are reported there. */
  row: number;
  building: string;
  unit: string;
  room: string;
  /** `<building>-<unit>-<room>` made canonical by normalizeHouseCode (houses.code), as binding looks it up. */
  code: string;
  floor: number;
  /** Exactly two decimals, as PostgreSQL returns numeric(10,2): comparing strings finds real changes. */
  areaM2: string;
  status: HouseStatus;
  owners: PlannedOwner[];
};

/** What a valid file says the community looks like; `errors` lists every bad row at once. */
export type RosterPlan = { rows: number; houses: PlannedHouse[]; errors: RosterRowError[]; ignoredColumns: string[] };

export const MAX_NAME_LENGTH = 100;
const MAX_PLACE_LENGTH = 50;
// C0 and C1 controls, plus the Unicode bidi overrides and isolates (U+202A–202E, U+2066–2069): the
// latter make a name display differently from what is stored ("Trojan Source", CVE-2021-42574).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;
// numeric(10,2): at most 8 digits before the point and 2 after.
const AREA = /^(\d{1,8})(?:\.(\d{1,2}))?$/;
const FLOOR = /^-?\d{1,3}$/;

/**
 * Maps header cells to columns. Throws `Problem('unreadable-file')` listing every missing required
 * column (and duplicate ones) at once; unknown columns are ignored and reported back.
 */
export function mapHeader(header: string[]): { index: Map<RosterColumn, number>; ignored: string[] } {
  const index = new Map<RosterColumn, number>();
  const ignored: string[] = [];
  const duplicates: string[] = [];
  header.forEach((cell, i) => {
    const column = columnForHeader(cell);
    if (!column) {
      if (cell !== '') ignored.push(cell);
    } else if (index.has(column)) {
      duplicates.push(`"${cell}" repeats ${COLUMN_LABELS[column]}`);
    } else {
      index.set(column, i);
    }
  });
  const missing = REQUIRED_COLUMNS.filter((c) => !index.has(c));
  if (missing.length > 0 || duplicates.length > 0) {
    const parts = [
      missing.length ? `missing required columns: ${missing.map((c) => COLUMN_LABELS[c]).join(', ')}` : '',
      duplicates.length ? `duplicate columns: ${duplicates.join('; ')}` : '',
    ].filter(Boolean);
    // Row 1 is described, never quoted: when the header row is missing it holds an owner's name, ID
    // and phone number, and this message is returned, stored on the import and audited.
    const filled = header.filter((cell) => cell !== '');
    const recognised = [...index.keys()].map((c) => COLUMN_LABELS[c]);
    const found = filled.length === 0
      ? 'Row 1 is empty'
      : `Row 1 has ${filled.length} filled cell${filled.length === 1 ? '' : 's'}; ${recognised.length ? `recognised: ${recognised.join(', ')}` : 'none of them is a known column name'}`;
    const looksLikeData = filled.some((cell) => /\d{6,}/.test(cell)) || filled.filter((cell) => /^-?\d+(\.\d+)?$/.test(cell)).length >= 2;
    const hint = looksLikeData ? '. Row 1 looks like data, not column names: insert a header row above it (楼栋, 单元, 房号, …)' : '';
    throw new Problem('unreadable-file', `The header row (row 1) is not a roster header: ${parts.join('; ')}. ${found}${hint}`, {
      missingColumns: missing,
      expectedColumns: ROSTER_COLUMNS.map((c) => COLUMN_LABELS[c]),
    });
  }
  return { index, ignored };
}

/**
 * Checks every row and groups rows into houses with their owners. Nothing stops at the first error:
 * the person fixing the spreadsheet gets the whole list, each with row number, column and reason.
 *
 * @example
 * const plan = validateRoster(await readRosterFile(bytes, name));
 * if (plan.errors.length) throw new Problem('roster-invalid', '…', { errors: plan.errors });
 */
export function validateRoster(table: RosterTable): RosterPlan {
  const { index, ignored } = mapHeader(table.header);
  const errors: RosterRowError[] = [];
  const houses = new Map<string, PlannedHouse>();
  const placeOfCode = new Map<string, string>();
  const seenOwner = new Map<string, number>();
  const explicitPrimary = new Map<string, number>();

  for (const row of table.rows) {
    const get = (column: RosterColumn): string => {
      const i = index.get(column);
      return i === undefined ? '' : (row.cells[i] ?? '');
    };
    const fail = (column: RosterColumn, reason: string) => errors.push({ row: row.rowNumber, column: COLUMN_LABELS[column], reason });
    const before = errors.length;

    const cells = readHouseCells(get, fail);
    const owner = readOwner(row, index.get('id_number'), get, fail);
    if (errors.length > before || !cells) continue;

    const { place, fields } = cells;
    const [building, unit, room] = place;
    // The canonical form binding compares with: "1栋"/"1单元"/"101室" is house 1-1-101.
    const code = normalizeHouseCode(`${building}-${unit}-${room}`);
    const placeKey = JSON.stringify(place);
    // A "-" inside a name lets two different houses share a code ("1-2"/"3" and "1"/"2-3"), and so do
    // two spellings of one place ("1栋" and "1").
    const otherPlace = placeOfCode.get(code);
    if (otherPlace !== undefined && otherPlace !== placeKey) {
      fail('room', `house code ${code} is also produced by another building/unit/room combination; remove "-" from the names and write each building and unit the same way on every row`);
      continue;
    }
    placeOfCode.set(code, placeKey);

    let house = houses.get(code);
    if (!house) {
      house = { row: row.rowNumber, building, unit, room, code, ...fields, owners: [] };
      houses.set(code, house);
    } else {
      const conflicts = (['floor', 'areaM2', 'status'] as const).filter((k) => house![k] !== fields[k]);
      for (const k of conflicts) {
        const column = k === 'areaM2' ? 'area_m2' : k;
        fail(column, `house ${code} has ${column} ${house[k]} on row ${house.row} but ${fields[k]} here; rows of one house must agree`);
      }
      if (conflicts.length) continue;
    }
    if (!owner) continue;

    const ownerKey = `${code}\u0000${owner.idNumber}`;
    const duplicateOf = seenOwner.get(ownerKey);
    if (duplicateOf !== undefined) {
      fail('id_number', `the same owner (same ID number) is already listed for house ${code} on row ${duplicateOf}`);
      continue;
    }
    if (owner.primary === true) {
      const other = explicitPrimary.get(code);
      if (other !== undefined) {
        fail('primary', `house ${code} already has a primary owner on row ${other}; a house has exactly one`);
        continue;
      }
      explicitPrimary.set(code, row.rowNumber);
    }
    seenOwner.set(ownerKey, row.rowNumber);
    house.owners.push({ row: row.rowNumber, name: owner.name, idNumber: owner.idNumber, phone: owner.phone, isPrimary: owner.primary === true });
  }

  // Exactly one primary per house (it receives bill notices): the one marked so, else the first listed.
  for (const house of houses.values()) {
    if (house.owners.length > 0 && !house.owners.some((o) => o.isPrimary)) house.owners[0]!.isPrimary = true;
  }
  errors.sort((a, b) => a.row - b.row);
  // House codes are built from cells too; no reason may carry a whole phone or ID number.
  for (const e of errors) e.reason = redactDigits(e.reason);
  return { rows: table.rows.length, houses: [...houses.values()], errors, ignoredColumns: ignored };
}

type HouseFields = Pick<PlannedHouse, 'floor' | 'areaM2' | 'status'>;

/** Building, unit, room, floor, area and status of a row; undefined (after reporting) when any is bad. */
function readHouseCells(
  get: (c: RosterColumn) => string,
  fail: (c: RosterColumn, reason: string) => void,
): { place: [string, string, string]; fields: HouseFields } | undefined {
  let ok = true;
  const bad = (column: RosterColumn, reason: string) => {
    ok = false;
    fail(column, reason);
  };
  const place = (['building', 'unit', 'room'] as const).map((column) => {
    const value = get(column);
    if (value === '') bad(column, 'is empty');
    else if (CONTROL.test(value)) bad(column, 'contains control characters');
    else if (value.length > MAX_PLACE_LENGTH) bad(column, `is longer than ${MAX_PLACE_LENGTH} characters`);
    return value;
  }) as [string, string, string];
  const floorText = get('floor');
  if (!FLOOR.test(floorText)) bad('floor', floorText === '' ? 'is empty' : `"${clip(floorText)}" is not a whole number`);
  const areaText = get('area_m2');
  const area = AREA.exec(areaText);
  if (!area || Number(areaText) <= 0) {
    bad('area_m2', areaText === '' ? 'is empty' : `"${clip(areaText)}" is not a positive number of m² with at most 2 decimals`);
  }
  const status = parseStatus(get('status'));
  if (!status) bad('status', `"${clip(get('status'))}" is not a known status (已入住/occupied, 空置/vacant, 装修中/under_renovation, 未售/unsold)`);
  if (!ok || !area || !status) return undefined;
  return { place, fields: { floor: Number(floorText), areaM2: `${area[1]}.${(area[2] ?? '').padEnd(2, '0')}`, status } };
}

type OwnerCells = { name: string; idNumber: string; phone: string | null; primary: boolean | null };

/** The owner on a row, null for a house without owner, undefined when the owner cells are bad. */
function readOwner(
  row: RosterRow,
  idColumn: number | undefined,
  get: (c: RosterColumn) => string,
  fail: (c: RosterColumn, reason: string) => void,
): OwnerCells | null | undefined {
  const name = get('owner_name');
  const idText = get('id_number');
  const phoneText = get('phone');
  const primaryText = get('primary');
  if (name === '' && idText === '' && phoneText === '' && primaryText === '') return null;
  let ok = true;
  const bad = (column: RosterColumn, reason: string) => {
    ok = false;
    fail(column, reason);
  };
  if (name === '') bad('owner_name', 'is empty, but the row has other owner data');
  else if (CONTROL.test(name)) bad('owner_name', 'contains control characters (line breaks, tabs or invisible direction marks)');
  else if ([...name].length > MAX_NAME_LENGTH) bad('owner_name', `is longer than ${MAX_NAME_LENGTH} characters`);

  let idNumber: string | null = null;
  if (idText === '') bad('id_number', 'is empty; every owner needs an ID number (binding checks it)');
  else if (idColumn !== undefined && row.numeric?.[idColumn] === true) {
    bad('id_number', 'Excel stored this ID number as a number and rounded its last digits; format the column as Text and type it again');
  } else {
    idNumber = normalizeIdNumber(idText);
    if (!idNumber) bad('id_number', idNumberReason(idText));
  }

  let phone: string | null = null;
  if (phoneText !== '') {
    phone = normalizePhone(phoneText);
    if (!phone) bad('phone', 'is not a mainland mobile number (11 digits starting 13–19)');
  }
  const primary = parsePrimary(primaryText);
  if (primary === undefined) bad('primary', `"${clip(primaryText)}" is not yes/no (是/否)`);
  return ok ? { name, idNumber: idNumber!, phone, primary: primary ?? null } : undefined;
}

/** Why an ID number is refused, in terms a clerk can act on (GB 11643-1999). */
function idNumberReason(input: string): string {
  const id = input.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) return `is not 18 characters (17 digits and a digit or X): "${maskForMessage(id)}"`;
  const birth = id.slice(6, 14);
  const date = new Date(`${birth.slice(0, 4)}-${birth.slice(4, 6)}-${birth.slice(6, 8)}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10).replaceAll('-', '') !== birth) return 'has an impossible birth date (characters 7–14)';
  return 'has a wrong check character (last character, GB 11643-1999 MOD 11-2): probably a typo';
}

/** Error lists are shown to staff and stored; they must not carry a whole ID number either. */
function maskForMessage(value: string): string {
  return value.length > 8 ? `${value.slice(0, 4)}…${value.slice(-2)}` : '…';
}

/**
 * A cell as quoted in an error reason. Reasons are returned, stored and audited, and a shifted column
 * puts ID or phone numbers where a floor or status was expected: long digit runs are masked first.
 */
function clip(value: string): string {
  const masked = redactDigits(value);
  return masked.length > 30 ? `${masked.slice(0, 30)}…` : masked;
}
