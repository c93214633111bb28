/**
 * Tables in a Markdown document rendered from results files, never typed by hand. A block
 *
 *   <!-- saln results results/p-cifar-ft.json --pair saln-0.8,jest-super -->
 *   | A | B | … |
 *   <!-- end saln results -->
 *
 * holds what `saln results ARGS --markdown` prints (its tables; headings left out). `saln tables
 * DOC` rewrites every block from its results file, `--check` says which are stale. This module
 * only finds and replaces the blocks; rendering is the caller's.
 */

/** One quoted block: the arguments of its `saln results` and the text between its markers. */
export interface QuotedBlock {
  /** 1-based lines of the opening and the closing marker. */
  line: number;
  endLine: number;
  args: string[];
  body: string;
}

const OPEN = /^<!--\s*saln results\s+(.*?)\s*-->\s*$/;
const CLOSE = /^<!--\s*end saln results\s*-->\s*$/;

/** A malformed block: names the document's line. */
export class DocTablesError extends Error {
  constructor(readonly line: number, message: string) {
    super(message);
    this.name = 'DocTablesError';
  }
}

/** Splits a marker's arguments on spaces; '…' or "…" keep spaces (a --label regex). */
export function splitArgs(text: string, line = 0): string[] {
  const out: string[] = [];
  const re = /'([^']*)'|"([^"]*)"|(\S+)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[3] !== undefined && /['"]/.test(m[3])) throw new DocTablesError(line, `unbalanced quote in the marker's arguments: ${m[3]}`);
    out.push(m[1] ?? m[2] ?? m[3]!);
  }
  return out;
}

/** Every block of the document, in order. */
export function findBlocks(markdown: string): QuotedBlock[] {
  const lines = markdown.split('\n');
  const blocks: QuotedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (CLOSE.test(lines[i]!)) throw new DocTablesError(i + 1, '"<!-- end saln results -->" without an opening "<!-- saln results ARGS -->"');
    const open = OPEN.exec(lines[i]!);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && (CLOSE.test(l) || OPEN.test(l)));
    if (end < 0 || !CLOSE.test(lines[end]!)) throw new DocTablesError(i + 1, 'this "<!-- saln results … -->" has no "<!-- end saln results -->" before the next block or the end');
    blocks.push({ line: i + 1, endLine: end + 1, args: splitArgs(open[1]!, i + 1), body: lines.slice(i + 1, end).join('\n') });
    i = end;
  }
  return blocks;
}

/**
 * What a block holds, from what `saln results --markdown` printed: its tables and any other
 * line, without the headings, with one blank line around.
 */
export function blockBody(printed: string): string {
  const kept = printed.split('\n').filter((l) => !l.startsWith('#'));
  while (kept.length && kept[0]!.trim() === '') kept.shift();
  while (kept.length && kept[kept.length - 1]!.trim() === '') kept.pop();
  return `\n${kept.join('\n')}\n`;
}

/**
 * The document with every block's body replaced by render(args) (already a block body), and the
 * lines of the blocks whose body changed.
 */
export async function renderBlocks(markdown: string, render: (block: QuotedBlock) => Promise<string>): Promise<{ text: string; changed: number[] }> {
  const blocks = findBlocks(markdown);
  const lines = markdown.split('\n');
  const out: string[] = [];
  const changed: number[] = [];
  let from = 0;
  for (const b of blocks) {
    const body = await render(b);
    if (body !== b.body) changed.push(b.line);
    out.push(...lines.slice(from, b.line), body);
    from = b.endLine - 1;
  }
  out.push(...lines.slice(from));
  return { text: out.join('\n'), changed };
}
