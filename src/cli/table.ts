/**
 * Plain-text tables for the terminal (`saln runs`, reports): columns padded to their widest cell,
 * two spaces apart, numbers right-aligned; and the number formats they share.
 */

export type Align = 'left' | 'right';

export interface TableColumn {
  header: string;
  /** Default 'left'; use 'right' for numbers so their digits line up. */
  align?: Align;
}

export interface TableOptions {
  /** Print the header row and a rule under it (default true). */
  header?: boolean;
  /** Put before every line (default ''). */
  indent?: string;
}

/** Formats rows of already-formatted cells; every row must have one cell per column. */
export function formatTable(columns: readonly (string | TableColumn)[], rows: readonly (readonly string[])[], o: TableOptions = {}): string {
  const cols: TableColumn[] = columns.map((c) => (typeof c === 'string' ? { header: c } : c));
  rows.forEach((r, i) => {
    if (r.length !== cols.length) throw new Error(`table row ${i} has ${r.length} cells, expected ${cols.length}`);
  });
  const showHeader = o.header ?? true;
  const widths = cols.map((c, j) => Math.max(showHeader ? c.header.length : 0, ...rows.map((r) => r[j]!.length)));
  const line = (cells: readonly string[]): string => {
    const padded = cells.map((cell, j) => (cols[j]!.align === 'right' ? cell.padStart(widths[j]!) : cell.padEnd(widths[j]!)));
    return `${o.indent ?? ''}${padded.join('  ').trimEnd()}\n`;
  };
  let out = '';
  if (showHeader) {
    out += line(cols.map((c) => c.header));
    out += line(widths.map((w) => '-'.repeat(w)));
  }
  for (const r of rows) out += line(r);
  return out;
}

/** A number with a fixed number of decimals; null, undefined and NaN print as '-'. */
export function fixed(v: number | null | undefined, decimals: number): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(decimals) : '-';
}

/** An integer count with no decimals; missing as '-'. */
export function count(v: number | null | undefined): string {
  return fixed(v, 0);
}
