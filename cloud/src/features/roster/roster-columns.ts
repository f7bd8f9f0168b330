import type { HouseStatus } from '../estate/estate.schema.js';

/**
 * The roster's columns. Property companies keep rosters in Excel with Chinese headers; exports from
 * other systems use English ones. Both are accepted, with the usual variants of each.
 */
export const ROSTER_COLUMNS = ['building', 'unit', 'room', 'floor', 'area_m2', 'status', 'owner_name', 'id_number', 'phone', 'primary'] as const;
export type RosterColumn = (typeof ROSTER_COLUMNS)[number];

/**
 * Columns a file must have. The owner columns are required as headers even though their cells may be
 * empty (a house without an owner): a roster without them is almost always the wrong sheet.
 * `status`, `phone` and `primary` may be left out; they default to occupied / none / first owner.
 */
export const REQUIRED_COLUMNS: readonly RosterColumn[] = ['building', 'unit', 'room', 'floor', 'area_m2', 'owner_name', 'id_number'];

/** Header used in messages and in the export: Chinese first, since that is what the spreadsheet shows. */
export const COLUMN_LABELS: Record<RosterColumn, string> = {
  building: '楼栋/building',
  unit: '单元/unit',
  room: '房号/room',
  floor: '楼层/floor',
  area_m2: '建筑面积/area_m2',
  status: '状态/status',
  owner_name: '业主姓名/owner_name',
  id_number: '身份证号/id_number',
  phone: '手机号/phone',
  primary: '主业主/primary',
};

const ALIASES: Record<RosterColumn, string[]> = {
  building: ['building', 'building_name', 'bldg', '楼栋', '楼栋号', '楼号', '幢', '栋'],
  unit: ['unit', 'unit_name', '单元', '单元号'],
  room: ['room', 'room_number', 'house_number', 'number', '房号', '房间号', '门牌号', '室'],
  floor: ['floor', '楼层', '所在楼层', '层'],
  area_m2: ['area_m2', 'area', 'floor_area', 'floor_area_m2', 'gross_area', '建筑面积', '面积', '房屋面积'],
  status: ['status', 'house_status', '状态', '房屋状态'],
  owner_name: ['owner_name', 'owner', 'name', '业主姓名', '业主', '姓名'],
  id_number: ['id_number', 'id_no', 'id_card', 'identity_number', '身份证号', '身份证号码', '身份证', '证件号码'],
  phone: ['phone', 'mobile', 'phone_number', 'mobile_phone', '手机号', '手机号码', '手机', '联系电话', '电话'],
  primary: ['primary', 'is_primary', 'primary_owner', '主业主', '是否主业主'],
};

const BY_ALIAS = new Map<string, RosterColumn>(
  (Object.entries(ALIASES) as [RosterColumn, string[]][]).flatMap(([column, names]) => names.map((n) => [n, column] as const)),
);

/**
 * Maps a header cell to its column: case, spaces and a trailing unit in brackets are ignored,
 * so "建筑面积（㎡）", "Area (m2)" and "area_m2" all name the area column.
 */
export function columnForHeader(header: string): RosterColumn | undefined {
  const key = header
    .normalize('NFKC')
    .trim()
    .toLowerCase()
    .replace(/[(（[【].*[)）\]】]$/u, '')
    .replace(/[\s-]+/g, '_')
    .replace(/^_+|_+$/g, '');
  return BY_ALIAS.get(key);
}

const STATUS_WORDS = new Map<string, HouseStatus>([
  ['occupied', 'occupied'],
  ['已入住', 'occupied'],
  ['入住', 'occupied'],
  ['自住', 'occupied'],
  ['出租', 'occupied'],
  ['已交付', 'occupied'],
  ['vacant', 'vacant'],
  ['空置', 'vacant'],
  ['闲置', 'vacant'],
  ['under_renovation', 'under_renovation'],
  ['renovating', 'under_renovation'],
  ['装修', 'under_renovation'],
  ['装修中', 'under_renovation'],
  ['unsold', 'unsold'],
  ['未售', 'unsold'],
  ['待售', 'unsold'],
]);

/** House status from the words rosters use; empty means occupied, unknown means undefined. */
export function parseStatus(value: string): HouseStatus | undefined {
  if (value === '') return 'occupied';
  return STATUS_WORDS.get(value.normalize('NFKC').trim().toLowerCase().replace(/\s+/g, '_'));
}

export const STATUS_LABELS_ZH: Record<HouseStatus, string> = { occupied: '已入住', vacant: '空置', under_renovation: '装修中', unsold: '未售' };

const YES = new Set(['是', 'y', 'yes', 'true', '1', '✓', '√', '主']);
const NO = new Set(['否', 'n', 'no', 'false', '0']);

/** The primary flag: yes / no / not said (empty); undefined when the cell holds something else. */
export function parsePrimary(value: string): boolean | null | undefined {
  const v = value.normalize('NFKC').trim().toLowerCase();
  if (v === '') return null;
  if (YES.has(v)) return true;
  if (NO.has(v)) return false;
  return undefined;
}
