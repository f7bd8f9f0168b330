import { parse } from 'csv-parse/sync';
import ExcelJS from 'exceljs';
import { redactDigits } from '../../crypto/pii.js';
import { Problem } from '../../http/problem.js';
import type { RosterRowError } from './roster.schema.js';

export type RosterFormat = 'csv' | 'xlsx';

/** One spreadsheet row as text. `rowNumber` is what the spreadsheet shows at the left (header = 1). */
export type RosterRow = {
  rowNumber: number;
  cells: string[];
  /** XLSX only: the cell at this index held a number, not text (matters for 18-digit ID numbers). */
  numeric?: boolean[];
};

/** A roster file read into text cells, before any domain validation. */
export type RosterTable = { format: RosterFormat; header: string[]; rows: RosterRow[] };

const UTF8_BOM = [0xef, 0xbb, 0xbf];
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
// Compound File Binary (MS-CFB 2.2): the pre-2007 .xls format, which exceljs cannot read.
const CFB_MAGIC = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

/** CSV or XLSX, by magic bytes first (a renamed file is common) and by extension second. */
export function detectFormat(bytes: Uint8Array, fileName: string): RosterFormat {
  if (startsWith(bytes, ZIP_MAGIC)) return 'xlsx';
  const ext = /\.([a-z0-9]+)$/i.exec(fileName)?.[1]?.toLowerCase();
  if (startsWith(bytes, CFB_MAGIC) || ext === 'xls') {
    throw new Problem('unreadable-file', 'This is an old Excel 97-2003 (.xls) file; open it in Excel and save as "Excel Workbook (.xlsx)" or "CSV UTF-8"');
  }
  if (ext === 'xlsx' || ext === 'xlsm') {
    throw new Problem('unreadable-file', `"${redactDigits(fileName)}" is named .${ext} but is not an Excel workbook (an .xlsx file is a ZIP archive); save it again from Excel`);
  }
  return 'csv';
}

/**
 * Reads a roster upload into rows of text, rejecting files that cannot be trusted cell by cell.
 * Throws `Problem('unreadable-file')` naming what is wrong and how to fix it in Excel.
 *
 * @example
 * const table = await readRosterFile(bytes, 'roster.xlsx');
 * table.rows[0]!.rowNumber; // 2: the first row under the header
 */
export async function readRosterFile(bytes: Uint8Array, fileName: string): Promise<RosterTable> {
  if (bytes.length === 0) throw new Problem('unreadable-file', 'The file is empty');
  const format = detectFormat(bytes, fileName);
  const table = format === 'xlsx' ? await readXlsx(bytes) : readCsv(bytes);
  if (table.header.every((h) => h === '')) throw new Problem('unreadable-file', 'The file has no header row: row 1 must name the columns (楼栋, 单元, 房号, …)');
  if (table.rows.length === 0) throw new Problem('unreadable-file', 'The file has a header row but no data rows');
  return table;
}

function decodeUtf8(bytes: Uint8Array): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new Problem('unreadable-file', 'The file is UTF-16 ("Unicode Text"), not UTF-8; in Excel choose Save As → "CSV UTF-8 (Comma delimited)"');
  }
  const body = startsWith(bytes, UTF8_BOM) ? bytes.subarray(3) : bytes;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    // Excel's plain "CSV" on Chinese Windows writes the ANSI code page, i.e. GBK; GB18030 is its superset.
    let looksGb = false;
    try {
      new TextDecoder('gb18030', { fatal: true }).decode(body);
      looksGb = true;
    } catch {
      looksGb = false;
    }
    throw new Problem(
      'unreadable-file',
      looksGb
        ? 'The file is not UTF-8, it looks like GBK/GB18030 — save as \'CSV UTF-8\' (Excel: Save As → "CSV UTF-8 (Comma delimited)") and upload again'
        : 'The file is not UTF-8 text; save it as \'CSV UTF-8\' or as an Excel .xlsx workbook',
    );
  }
}

function readCsv(bytes: Uint8Array): RosterTable {
  const text = decodeUtf8(bytes);
  const firstLine = text.slice(0, text.search(/\r?\n|$/));
  // Exports from Chinese systems use tabs or semicolons about as often as commas; the header decides.
  const delimiter = [',', '\t', ';'].map((d) => [d, firstLine.split(d).length] as const).sort((a, b) => b[1] - a[1])[0]![0];
  let records: string[][];
  try {
    records = parse(text, { delimiter, relax_column_count: true, skip_empty_lines: false, bom: true, trim: false }) as string[][];
  } catch (error) {
    // csv-parse's own messages quote the cell it stopped in ("value is \"…\""), which may be an ID
    // number: only its code and line are used.
    const e = error as { code?: string; lines?: number };
    throw new Problem('unreadable-file', `The CSV cannot be parsed${typeof e.lines === 'number' ? ` near line ${e.lines}` : ''}: ${csvErrorReason(e.code)}`);
  }
  const [header = [], ...body] = records;
  // A record's index is the row a spreadsheet shows, even when a quoted cell spans several lines of text.
  const rows = body
    .map((cells, i) => ({ rowNumber: i + 2, cells: cells.map((c) => c.trim()) }))
    .filter((r) => r.cells.some((c) => c !== ''));
  return { format: 'csv', header: header.map((h) => h.trim()), rows };
}

/** What a csv-parse error code means for the person holding the file, without quoting the file. */
function csvErrorReason(code: string | undefined): string {
  switch (code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted cell is never closed (a " without its closing ")';
    case 'CSV_INVALID_CLOSING_QUOTE':
      return 'a quoted cell has text after its closing quote; inside quotes write a quote as ""';
    case 'INVALID_OPENING_QUOTE':
      return 'a cell has a quote (") in the middle; quote the whole cell and write the quote as ""';
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return 'a quoted cell has text after its closing quote';
    case 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH':
    case 'CSV_RECORD_INCONSISTENT_COLUMNS':
      return 'rows have different numbers of cells';
    case 'CSV_MAX_RECORD_SIZE':
      return 'a row is too long';
    default:
      return `the text is not valid CSV${code ? ` (${code})` : ''}`;
  }
}

async function readXlsx(bytes: Uint8Array): Promise<RosterTable> {
  const workbook = new ExcelJS.Workbook();
  try {
    await workbook.xlsx.load(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as never);
  } catch (error) {
    throw new Problem('unreadable-file', `The file is not a readable Excel .xlsx workbook (${redactDigits((error as Error).message).slice(0, 120)}); save it again from Excel as .xlsx or as "CSV UTF-8"`);
  }
  const sheet = workbook.worksheets.find((s) => s.state === 'visible' && s.actualRowCount > 0) ?? workbook.worksheets[0];
  if (!sheet || sheet.actualRowCount === 0) throw new Problem('unreadable-file', 'The workbook has no rows in its first sheet');

  // Merged cells hide which row a value belongs to (a building name merged down 30 rows is the usual
  // case); guessing would attach houses to the wrong building, so the file is refused instead.
  const merges = sheet.model.merges ?? [];
  if (merges.length > 0) {
    throw new Problem('unreadable-file', `Sheet "${sheet.name}" has merged cells (${merges.join(', ')}); unmerge them and fill every row in`, {
      mergedRanges: merges,
      errors: merges.map((range) => cellError(range.split(':')[0]!, 'merged cells: unmerge and fill every row')),
    });
  }

  const formulas: string[] = [];
  const errorCells: string[] = [];
  const width = sheet.columnCount;
  const all: RosterRow[] = [];
  sheet.eachRow({ includeEmpty: false }, (row, rowNumber) => {
    const cells: string[] = [];
    const numeric: boolean[] = [];
    for (let col = 1; col <= width; col++) {
      const cell = row.getCell(col);
      // A formula's cached result is whatever Excel last computed; the roster must be the values
      // themselves (Paste Special → Values), or a stale cache becomes an owner's ID number.
      if (cell.type === ExcelJS.ValueType.Formula) formulas.push(cell.address);
      if (cell.type === ExcelJS.ValueType.Error) errorCells.push(cell.address);
      cells.push(cellText(cell.value).trim());
      numeric.push(cell.type === ExcelJS.ValueType.Number);
    }
    all.push({ rowNumber, cells, numeric });
  });
  if (formulas.length > 0) {
    throw new Problem('unreadable-file', `Sheet "${sheet.name}" has formulas in ${listCells(formulas)}; replace them by their values (Copy, then Paste Special → Values)`, {
      formulaCells: formulas,
      errors: formulas.map((a) => cellError(a, 'formula: replace by its value')),
    });
  }
  if (errorCells.length > 0) {
    throw new Problem('unreadable-file', `Sheet "${sheet.name}" has Excel error values in ${listCells(errorCells)}`, {
      errors: errorCells.map((a) => cellError(a, 'Excel error value')),
    });
  }
  const headerRow = all.find((r) => r.rowNumber === 1);
  if (!headerRow) throw new Problem('unreadable-file', 'Row 1 of the first sheet is empty: it must name the columns (楼栋, 单元, 房号, …)');
  const rows = all.filter((r) => r.rowNumber > 1 && r.cells.some((c) => c !== ''));
  return { format: 'xlsx', header: headerRow.cells, rows };
}

function listCells(addresses: string[]): string {
  return addresses.length > 20 ? `${addresses.slice(0, 20).join(', ')} and ${addresses.length - 20} more` : addresses.join(', ');
}

/** "C12" → { row: 12, column: "C" } */
function cellError(address: string, reason: string): RosterRowError {
  const m = /^([A-Z]+)(\d+)$/.exec(address);
  return m ? { row: Number(m[2]), column: m[1]!, reason } : { row: 0, column: address, reason };
}

function cellText(value: ExcelJS.CellValue): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Date) return value.toISOString().slice(0, 10);
  if (typeof value === 'object') {
    if ('richText' in value) return value.richText.map((r) => r.text).join('');
    if ('text' in value && typeof value.text === 'string') return value.text;
    if ('error' in value) return String(value.error);
    if ('result' in value) return cellText((value.result ?? null) as ExcelJS.CellValue);
  }
  return String(value);
}
