// Printing helpers shared by the commands. Colour only when stdout is a terminal and NO_COLOR
// is unset, so scripts and tests see plain text. Files a command writes out (--output) are
// created new, never overwritten.
import fs from 'node:fs';
import { dataError, usageError } from '../errors.js';

const useColour = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;

const codes = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, grey: 90, bold: 1 } as const;
export type Colour = keyof typeof codes;

export function paint(colour: Colour, text: string): string {
  return useColour ? `\u001b[${codes[colour]}m${text}\u001b[0m` : text;
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export function printLine(text = ''): void {
  process.stdout.write(text + '\n');
}

/** A plain text table: columns padded to their widest cell. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => stripAnsi(r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c + ' '.repeat(Math.max(0, widths[i]! - stripAnsi(c).length)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function stripAnsi(text: string): string {
  return text.replace(/\u001b\[[0-9;]*m/g, '');
}

/** Creates the file only if it does not exist yet (O_EXCL), so nothing is ever overwritten. */
export function writeNewFile(file: string, bytes: Buffer | string): void {
  try {
    fs.writeFileSync(file, bytes, { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw usageError('EOUTPUTEXISTS', `${file} exists already; give another --output (it is never overwritten).`);
    throw dataError('EWRITEFILE', `Cannot write ${file}: ${(err as Error).message}.`);
  }
}
