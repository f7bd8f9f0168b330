import { describe, expect, it } from 'vitest';
import { redactDigits } from '../../crypto/pii.js';
import { Problem } from '../../http/problem.js';
import { readRosterFile } from './roster-file.js';
import { validateRoster } from './roster-validate.js';
import { HEADER_EN, csv, idNumber, xlsx } from './roster.test-helpers.js';

async function problemOf(promise: Promise<unknown>): Promise<Problem> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(Problem);
  return error as Problem;
}

describe('reading roster files', () => {
  it('reads Chinese headers, strips a BOM and numbers rows as the spreadsheet shows them', async () => {
    const text = `\uFEFF楼栋,单元,房号,楼层,建筑面积（㎡）,状态,业主姓名,身份证号,手机号,主业主\n1,1,101,1,89.5,已入住,王伟,${idNumber(1)},13812345678,\n\n1,1,102,1,95,空置,,,,\n`;
    const table = await readRosterFile(Buffer.from(text), 'roster.csv');
    expect(table.rows.map((r) => r.rowNumber)).toEqual([2, 4]);
    const plan = validateRoster(table);
    expect(plan.errors).toEqual([]);
    expect(plan.houses.map((h) => [h.code, h.areaM2, h.status, h.owners.length])).toEqual([
      ['1-1-101', '89.50', 'occupied', 1],
      ['1-1-102', '95.00', 'vacant', 0],
    ]);
  });

  it('refuses GBK text, saying how to save it as CSV UTF-8', async () => {
    // "楼栋,单元" in GBK: what Excel's plain "CSV" writes on Chinese Windows.
    const gbk = Buffer.from([0xc2, 0xa5, 0xb6, 0xb0, 0x2c, 0xb5, 0xa5, 0xd4, 0xaa, 0x0a]);
    const problem = await problemOf(readRosterFile(gbk, 'roster.csv'));
    expect(problem.kind).toBe('unreadable-file');
    expect(problem.detail).toMatch(/not UTF-8, it looks like GBK\/GB18030 — save as 'CSV UTF-8'/);
  });

  it('refuses UTF-16 text, an empty file and a header without rows', async () => {
    expect((await problemOf(readRosterFile(Buffer.from('\uFEFFa,b', 'utf16le'), 'r.csv'))).detail).toMatch(/UTF-16/);
    expect((await problemOf(readRosterFile(Buffer.alloc(0), 'r.csv'))).detail).toBe('The file is empty');
    expect((await problemOf(readRosterFile(Buffer.from(`${HEADER_EN}\n`), 'r.csv'))).detail).toMatch(/no data rows/);
  });

  it('lists every missing required column at once', async () => {
    const table = await readRosterFile(Buffer.from('楼栋,房号,姓名,备注\n1,101,王伟,x\n'), 'r.csv');
    const problem = (() => {
      try {
        validateRoster(table);
      } catch (e) {
        return e as Problem;
      }
      throw new Error('expected a problem');
    })();
    expect(problem.kind).toBe('unreadable-file');
    expect(problem.extensions['missingColumns']).toEqual(['unit', 'floor', 'area_m2', 'id_number']);
    expect(problem.detail).toMatch(/单元\/unit, 楼层\/floor, 建筑面积\/area_m2, 身份证号\/id_number/);
  });

  it('refuses XLSX formulas, listing the cells', async () => {
    const bytes = await xlsx([HEADER_EN.split(','), ['1', '1', '101', 1, { formula: '80+9.5' }, '', '王伟', idNumber(1), '', ''], ['1', '1', '102', 1, 90, '', '', '', '', ''], ['1', '1', '103', { formula: 'D3' }, 90, '', '', '', '', '']]);
    const problem = await problemOf(readRosterFile(bytes, 'roster.xlsx'));
    expect(problem.kind).toBe('unreadable-file');
    expect(problem.detail).toMatch(/formulas in E2, D4/);
    expect(problem.extensions['errors']).toEqual([
      { row: 2, column: 'E', reason: 'formula: replace by its value' },
      { row: 4, column: 'D', reason: 'formula: replace by its value' },
    ]);
  });

  it('refuses XLSX merged cells, listing the ranges', async () => {
    const bytes = await xlsx([HEADER_EN.split(','), ['1', '1', '101', 1, 90, '', '', '', '', ''], ['', '1', '102', 1, 90, '', '', '', '', '']], (sheet) => sheet.mergeCells('A2:A3'));
    const problem = await problemOf(readRosterFile(bytes, 'roster.xlsx'));
    expect(problem.detail).toMatch(/merged cells \(A2:A3\)/);
    expect(problem.extensions['mergedRanges']).toEqual(['A2:A3']);
  });

  it('refuses a file named .xlsx that is not a ZIP, an old .xls, and a broken ZIP', async () => {
    expect((await problemOf(readRosterFile(Buffer.from('building,unit\n'), 'roster.xlsx'))).detail).toMatch(/not an Excel workbook/);
    expect((await problemOf(readRosterFile(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0]), 'roster.xls'))).detail).toMatch(/Excel 97-2003/);
    expect((await problemOf(readRosterFile(Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3, 4, 5, 6]), 'roster.xlsx'))).detail).toMatch(/not a readable Excel \.xlsx workbook/);
  });

  it('reads XLSX values, and refuses an ID number Excel stored as a number', async () => {
    const bytes = await xlsx([
      HEADER_EN.split(','),
      ['1', '1', '101', 1, 89.5, 'occupied', '王伟', idNumber(1), 13812345678, ''],
      ['1', '1', '102', 1, 90, 'occupied', '李娜', 310104199001010000, '', ''],
    ]);
    const plan = validateRoster(await readRosterFile(bytes, 'any-name.bin'));
    expect(plan.errors).toEqual([{ row: 3, column: '身份证号/id_number', reason: expect.stringMatching(/stored this ID number as a number/) }]);
  });
});

describe('validating rows', () => {
  it('reports every bad row with its row number, column and reason', async () => {
    const long = '名'.repeat(101);
    const plan = validateRoster(
      await readRosterFile(
        csv(
          `1,1,101,1,89.50,,王伟,${idNumber(1)},13812345678,`, // 2 ok
          `,1,102,1,89.50,,,,,`, // 3 building missing
          `1,1,103,3.5,89.505,,,,,`, // 4 floor, area
          `1,1,104,1,-2,,,,,`, // 5 area not positive
          `1,1,105,1,90,sold,,,,`, // 6 status
          `1,1,106,1,90,,李娜,310104199013011234,,`, // 7 birth date
          `1,1,107,1,90,,李娜,${idNumber(2).slice(0, 17)}${idNumber(2)[17] === '0' ? '1' : '0'},,`, // 8 check char
          `1,1,108,1,90,,李娜,${idNumber(3)},12345,`, // 9 phone
          `1,1,101,1,89.50,,王伟,${idNumber(1)},,`, // 10 duplicate owner
          `1,1,109,1,90,,张三,${idNumber(4)},,是`, // 11 ok, primary
          `1,1,109,1,90,,李四,${idNumber(5)},,是`, // 12 second primary
          `1,1,101,2,89.50,,赵六,${idNumber(6)},,`, // 13 floor conflicts with row 2
          `"1","1","110",1,90,,"王\u0007伟",${idNumber(7)},,`, // 14 control character
          `1,1,111,1,90,,${long},${idNumber(8)},,`, // 15 name too long
          `1,1,112,1,90,,"Zed\u202Eevil",${idNumber(9)},,`, // 16 bidi override
          `1,1,113,1,90,,,${idNumber(10)},,`, // 17 owner data without a name
          `1,1,114,1,90,,周七,${idNumber(11)},,maybe`, // 18 primary flag
        ),
        'r.csv',
      ),
    );
    const summary = plan.errors.map((e) => `${e.row} ${e.column?.split('/')[1]}`);
    expect(summary).toEqual([
      '3 building',
      '4 floor',
      '4 area_m2',
      '5 area_m2',
      '6 status',
      '7 id_number',
      '8 id_number',
      '9 phone',
      '10 id_number',
      '12 primary',
      '13 floor',
      '14 owner_name',
      '15 owner_name',
      '16 owner_name',
      '17 owner_name',
      '18 primary',
    ]);
    expect(plan.errors.find((e) => e.row === 7)?.reason).toMatch(/birth date/);
    expect(plan.errors.find((e) => e.row === 8)?.reason).toMatch(/check character/);
    expect(plan.errors.find((e) => e.row === 10)?.reason).toMatch(/row 2/);
    expect(plan.errors.find((e) => e.row === 12)?.reason).toMatch(/primary owner on row 11/);
    expect(plan.errors.find((e) => e.row === 13)?.reason).toMatch(/floor 1 on row 2 but 2 here/);
    // Reasons are stored and shown: they never carry a whole ID number.
    expect(JSON.stringify(plan.errors)).not.toMatch(/\d{17}[\dX]/);
  });

  it('makes the first owner primary unless the file names another', async () => {
    const plan = validateRoster(
      await readRosterFile(
        csv(`1,1,101,1,90,,甲,${idNumber(1)},,`, `1,1,101,1,90,,乙,${idNumber(2)},,`, `1,1,102,1,90,,丙,${idNumber(3)},,否`, `1,1,102,1,90,,丁,${idNumber(4)},,是`),
        'r.csv',
      ),
    );
    expect(plan.errors).toEqual([]);
    expect(plan.houses.map((h) => h.owners.map((o) => `${o.name}${o.isPrimary ? '*' : ''}`))).toEqual([
      ['甲*', '乙'],
      ['丙', '丁*'],
    ]);
  });

  it('accepts injection strings as the legal text they are', async () => {
    const plan = validateRoster(
      await readRosterFile(csv(`1,1,101,1,90,,"Robert'); DROP TABLE houses;--",${idNumber(1)},,`, `1,1,102,1,90,,<script>alert(1)</script>,${idNumber(2)},,`), 'r.csv'),
    );
    expect(plan.errors).toEqual([]);
    expect(plan.houses.map((h) => h.owners[0]!.name)).toEqual(["Robert'); DROP TABLE houses;--", '<script>alert(1)</script>']);
  });

  it('refuses two spellings of one house code', async () => {
    const plan = validateRoster(await readRosterFile(csv('1-2,3,101,1,90,,,,,', '1,2-3,101,1,90,,,,,'), 'r.csv'));
    expect(plan.errors).toEqual([{ row: 3, column: '房号/room', reason: expect.stringMatching(/house code 1-2-3-101/) }]);
  });
});

describe('messages about a file quote no ID or phone number', () => {
  it('redactDigits masks every run of 6 or more digits, an ID number with its X, and leaves short numbers', () => {
    expect(redactDigits('ID 11010519491231002X, 110105194912310021; phone 13912345678')).toBe('ID 110*************2X, 110*************21; phone 139******78');
    expect(redactDigits('row 12, floor 3, room 1502, 12345')).toBe('row 12, floor 3, room 1502, 12345');
    expect(redactDigits('123456')).toBe('123*56');
  });

  it('says row 1 looks like data when the header row is missing, without quoting it', async () => {
    const problem = await problemOf(readRosterFile(Buffer.from('1,1,101,1,90,,张三,11010519491231002X,13912345678,\n1,1,102,1,90,,,,,\n'), 'r.csv').then(validateRoster));
    expect(problem.detail).toMatch(/missing required columns: 楼栋\/building/);
    expect(problem.detail).toMatch(/Row 1 looks like data, not column names/);
    expect(problem.detail).not.toMatch(/张三|1101051949|1391234/);
  });
});
