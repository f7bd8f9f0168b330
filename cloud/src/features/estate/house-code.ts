/**
 * The canonical house code: "<building>-<unit>-<room>", e.g. "1-2-301". The roster import stores it and
 * binding compares against it, both through this one function, so "1栋-2单元-301室", "1栋2单元301室",
 * "1－2－301" and " 1 2 301 " all name the same house.
 */
export function normalizeHouseCode(input: string): string {
  const text = input.trim().replace(/[０-９]/g, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0));
  // The spoken form without separators: 1栋2单元301室, 3号楼1单元1502.
  const spoken = /^(.+?)(?:号楼|栋|幢|号)\s*(.+?)单元\s*(.+?)(?:室|号)?$/.exec(text.replace(/[－—–_/\s-]+/g, ''));
  if (spoken) return `${spoken[1]}-${spoken[2]}-${spoken[3]}`;
  return text
    .replace(/[－—–_/\s]+/g, '-')
    .replace(/(号楼|栋|幢|号|楼)-/g, '-')
    .replace(/单元-/g, '-')
    .replace(/室$/, '')
    .replace(/-+/g, '-');
}
