import ExcelJS from 'exceljs';
import { idNumberCheckChar } from '../../crypto/pii.js';

/** A checksum-valid, fictitious ID number (GB 11643-1999): Xuhui, born 1990-01-<day>, sequence `seq`. */
export function idNumber(seq: number, day = 1): string {
  const first17 = `310104199001${String(day).padStart(2, '0')}${String(seq).padStart(3, '0')}`;
  return first17 + idNumberCheckChar(first17);
}

export const HEADER_EN = 'building,unit,room,floor,area_m2,status,owner_name,id_number,phone,primary';

/** A CSV roster with the English header and the given data lines. */
export function csv(...lines: string[]): Buffer {
  return Buffer.from([HEADER_EN, ...lines].join('\n') + '\n');
}

/** An XLSX workbook built in the test; `edit` adds merges and the like. */
export async function xlsx(rows: (string | number | { formula: string })[][], edit?: (sheet: ExcelJS.Worksheet) => void): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  const sheet = workbook.addWorksheet('花名册');
  for (const row of rows) sheet.addRow(row);
  edit?.(sheet);
  return Buffer.from(await workbook.xlsx.writeBuffer());
}
