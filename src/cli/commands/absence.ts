// `mailwarden absence <c> --until <time> [--replacement <c2>]`, `absence <c> --clear`, `absences`
// (SPEC §5D). This file reads the command line; who may set an absence, who may stand in, and what
// moves are rules of src/cases/absence-set.ts and absence-moves.ts.
import type { Command } from 'commander';
import type { AbsenceEntry, AbsenceLogEntry } from '../../cases/absence.js';
import type { AbsenceResult } from '../../cases/absence-set.js';
import { usageError } from '../../errors.js';
import { withApp, type GlobalOptions } from '../app.js';
import { formatTable, printJson, printLine } from '../output.js';
import { action } from '../run.js';

interface AbsenceOptions {
  until?: string;
  replacement?: string;
  clear?: boolean;
  as?: string;
  json?: boolean;
}

/** `--until` or `--clear`, exactly one; `--replacement none` names nobody. */
function checkShape(opts: AbsenceOptions): void {
  if (opts.clear && (opts.until !== undefined || opts.replacement !== undefined)) {
    throw usageError('EUSAGE', '--clear ends the absence and takes neither --until nor --replacement.');
  }
  if (!opts.clear && opts.until === undefined) throw usageError('EUSAGE', 'Say until when with --until <time>, or end the absence with --clear.');
}

function replacementOf(text: string | undefined): string | null | undefined {
  if (text === undefined) return undefined;
  return text.trim().toLowerCase() === 'none' ? null : text.trim();
}

async function describeSet(r: AbsenceResult, tz: string): Promise<string> {
  const { localTime } = await import('../case-format.js');
  const lines = [
    `${r.consultant} is absent until ${localTime(r.until, tz)}${r.replaced ? ` (this replaces the absence until ${localTime(r.replaced.until, tz)})` : ''}; ${r.replacement ? `${r.replacement} stands in` : 'nobody stands in: open cases go back to the pool'}.`,
  ];
  if (r.moved.length) lines.push(`Cases moved: ${r.moved.map((m) => `${m.case} → ${m.to ?? `pool (${m.status})`}`).join(', ')}.`);
  if (r.approvals.length) lines.push(`Approvals sent to another supervisor: ${r.approvals.map((a) => `${a.approval} → ${a.to}`).join(', ')}.`);
  return lines.join('\n');
}

async function printAbsences(entries: AbsenceEntry[], tz: string): Promise<void> {
  const { localTime } = await import('../case-format.js');
  const rows = entries.map((e) => [e.consultant, localTime(e.until, tz), e.replacement ?? '- (pool)', e.set_by, localTime(e.at, tz)]);
  printLine(formatTable(['CONSULTANT', 'UNTIL', 'REPLACEMENT', 'SET BY', 'SET AT'], rows));
}

async function printHistory(entries: AbsenceLogEntry[], tz: string): Promise<void> {
  const { localTime } = await import('../case-format.js');
  const rows = entries.map((e) => [
    String(e.id),
    localTime(e.at, tz),
    e.consultant,
    e.action,
    e.until ? localTime(e.until, tz) : '-',
    e.replacement ?? '-',
    e.by,
  ]);
  printLine(formatTable(['ID', 'AT', 'CONSULTANT', 'ACTION', 'UNTIL', 'REPLACEMENT', 'BY'], rows));
}

export function register(program: Command): void {
  program
    .command('absence')
    .description('mark a consultant absent until a time (their open cases go to the replacement or back to the pool), or end it with --clear')
    .argument('<consultant>', 'who is away')
    .option('--until <time>', 'when the absence ends by itself: "2026-03-01", "2026-03-01 09:30" (instance time zone) or ISO-8601 with a zone')
    .option('--replacement <consultant>', "who stands in (default: the consultant's configured replacement; `none`: the cases go back to the pool)")
    .option('--clear', 'end the absence now (cases that moved away stay where they are)')
    .option('--as <consultant>', 'who sets it (default: $MAILWARDEN_AS): the consultant themself or a supervisor')
    .option('--json', 'print {consultant, until, replacement, replaced, moved:[{case, status, to}], approvals:[{approval, case, from, to}]}')
    .addHelpText(
      'after',
      '\nExample:\n  mailwarden absence anna --until "2026-03-09 08:00" --replacement piotr --as maria\n  mailwarden absence anna --clear --as anna',
    )
    .action(
      action(async (consultant: string, opts: AbsenceOptions) => {
        const { clearAbsence, setAbsence } = await import('../../cases/absence-set.js');
        const { resolveActor } = await import('../../cases/actors.js');
        const { parseWhen } = await import('../../cases/when.js');
        const { writeTx } = await import('../../db/connection.js');
        const { localTime } = await import('../case-format.js');
        checkShape(opts);
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          const tz = config.instance.timezone;
          if (opts.clear) {
            const r = await writeTx(db, (tx) => clearAbsence(tx, config, actor, consultant));
            if (opts.json) return printJson({ consultant: r.consultant, cleared: true, until: r.cleared.until, replacement: r.cleared.replacement });
            return printLine(
              `${r.consultant} is back: the absence until ${localTime(r.cleared.until, tz)} is cleared (cases that moved away stay where they are).`,
            );
          }
          const until = parseWhen(opts.until!, tz, '--until');
          const replacement = replacementOf(opts.replacement);
          const r = await writeTx(db, (tx) => setAbsence(tx, config, actor, { consultant, until, ...(replacement !== undefined ? { replacement } : {}) }));
          if (opts.json) return printJson(r);
          printLine(await describeSet(r, tz));
        });
      }),
    );

  program
    .command('absences')
    .description('consultants absent now, until when, and who stands in (an absence ends by itself at its time)')
    .option('--history', 'every absence set, replaced or cleared, oldest first')
    .option(
      '--json',
      'print [{consultant, name, until, replacement, set_by, at}] (with --history: [{id, consultant, action, until, replacement, by, at, previous}])',
    )
    .addHelpText('after', '\nExample:\n  mailwarden absences\n  mailwarden absences --history --json')
    .action(
      action(async (opts: { history?: boolean; json?: boolean }) => {
        const { absenceHistory, listAbsences } = await import('../../cases/absence.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const tz = config.instance.timezone;
          if (opts.history) {
            const entries = await absenceHistory(db);
            if (opts.json) return printJson(entries);
            if (entries.length === 0) return printLine('No absence was ever set.');
            return await printHistory(entries, tz);
          }
          const entries = await listAbsences(db, config);
          if (opts.json) return printJson(entries);
          if (entries.length === 0) return printLine('Nobody is absent.');
          await printAbsences(entries, tz);
        });
      }),
    );
}
