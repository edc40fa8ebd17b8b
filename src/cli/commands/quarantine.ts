// `mailwarden quarantine [show|release|drop]` (SPEC §5A): staff mail that was not acted on (a
// forged, altered or expired token, the wrong sender, failed authentication…), kept raw with the
// reason. The rules of what may be released are in src/cases/quarantine.ts.
import type { Command } from 'commander';
import type { QuarantineEntry, QuarantineReason } from '../../cases/quarantine.js';
import { usageError } from '../../errors.js';
import { withApp, type GlobalOptions } from '../app.js';
import { formatTable, paint, printJson, printLine } from '../output.js';
import { action } from '../run.js';

const ENTRY_SHAPE =
  '{id, state, reason, releasable, detail, at, mailbox, case, from, subject, message_id, raw_sha256, token: {purpose, ref, issued_to}, decided_by, decided_at}';

function quarantineId(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw usageError('EBADNUMBER', `A quarantine id is a positive whole number, not "${text}".`);
  return n;
}

function says(reason: string, reasons: Record<string, { says: string }>): string {
  return reasons[reason]?.says ?? reason;
}

async function printEntries(entries: QuarantineEntry[], tz: string): Promise<void> {
  const { localTime } = await import('../case-format.js');
  const rows = entries.map((e) => [
    String(e.id),
    e.state === 'held' ? paint('red', e.state) : e.state,
    localTime(e.at, tz),
    e.reason + (e.releasable ? ' (releasable)' : ''),
    e.case ?? '-',
    e.from ?? '-',
    (e.subject ?? '').slice(0, 40),
  ]);
  printLine(formatTable(['ID', 'STATE', 'AT', 'REASON', 'CASE', 'FROM', 'SUBJECT'], rows));
}

async function printEntry(e: QuarantineEntry, tz: string): Promise<void> {
  const { localTime } = await import('../case-format.js');
  const { QUARANTINE_REASONS } = await import('../../cases/quarantine.js');
  const lines = [
    `Quarantine ${e.id}  ${e.state}${e.decided_by ? ` by ${e.decided_by} at ${localTime(e.decided_at, tz)}` : ''}`,
    `Reason:    ${e.reason}: ${says(e.reason, QUARANTINE_REASONS)}`,
    `Detail:    ${e.detail ?? '-'}`,
    `Release:   ${e.releasable ? `allowed (mailwarden quarantine release ${e.id} --as <supervisor>)` : 'not allowed'}`,
    `Received:  ${localTime(e.at, tz)} in box ${e.mailbox ?? '-'}`,
    `From:      ${e.from ?? '-'}`,
    `Subject:   ${e.subject ?? '-'}`,
    `Case:      ${e.case ?? '-'}`,
    `Token:     ${e.token ? `${e.token.purpose}${e.token.ref ? ` #${e.token.ref}` : ''}, issued to ${e.token.issued_to ?? 'nobody configured'}` : '-'}`,
    `Kept raw:  ${e.raw_sha256}`,
  ];
  printLine(lines.join('\n'));
}

export function register(program: Command): void {
  const quarantine = program
    .command('quarantine')
    .description('staff mail that was not acted on (forged, altered or expired token, wrong sender, failed authentication), kept raw')
    .option('--all', 'also mail released or dropped since')
    .option('--json', `print an array of ${ENTRY_SHAPE}`)
    .addHelpText('after', '\nExample:\n  mailwarden quarantine\n  mailwarden quarantine show 4\n  mailwarden quarantine release 4 --as sam')
    .action(
      action(async (opts: { all?: boolean; json?: boolean }) => {
        const { listQuarantine } = await import('../../cases/quarantine.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const entries = await listQuarantine(db, { all: opts.all });
          if (opts.json) return printJson(entries);
          if (entries.length === 0) return printLine(opts.all ? 'No mail was ever quarantined.' : 'Quarantine is empty.');
          await printEntries(entries, config.instance.timezone);
        });
      }),
    );

  // Commander gives an option the parent command also defines (`--json`) to the parent, wherever
  // it stands: `quarantine show 4 --json` sets the parent's. Each subcommand honours both.
  const wantsJson = (opts: { json?: boolean }): boolean => Boolean(opts.json || quarantine.opts<{ json?: boolean }>().json);

  quarantine
    .command('show')
    .description('one quarantined mail: why it was kept, what its token claimed, whether it may be released')
    .argument('<id>', 'quarantine id')
    .option('--json', `print ${ENTRY_SHAPE}`)
    .addHelpText('after', '\nExample:\n  mailwarden quarantine show 4')
    .action(
      action(async (id: string, opts: { json?: boolean }) => {
        const { getQuarantine } = await import('../../cases/quarantine.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const entry = await getQuarantine(db, quarantineId(id));
          if (wantsJson(opts)) return printJson(entry);
          await printEntry(entry, config.instance.timezone);
        });
      }),
    );

  quarantine
    .command('release')
    .description(
      'act on a quarantined mail after all (only for reasons a person may override: an expired token, a sender alias not yet configured, a refused action)',
    )
    .argument('<id>', 'quarantine id')
    .option('--as <supervisor>', 'who releases (default: $MAILWARDEN_AS); a supervisor')
    .option('--json', 'print {quarantine, outcome, detail}')
    .addHelpText('after', '\nExample:\n  mailwarden quarantine release 4 --as sam')
    .action(
      action(async (id: string, opts: { as?: string; json?: boolean }) => {
        const { resolveActor } = await import('../../cases/actors.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          const { parserPoolFor } = await import('../../ingest/parse.js');
          const { releaseQuarantined } = await import('../../ingest/quarantine-release.js');
          const parsers = parserPoolFor(() => config, { size: 1 });
          try {
            const r = await releaseQuarantined(db, config, parsers, actor, quarantineId(id));
            if (wantsJson(opts)) return printJson(r);
            printLine(`Quarantined mail ${id} released: ${r.detail}.`);
          } finally {
            await parsers.close();
          }
        });
      }),
    );

  quarantine
    .command('drop')
    .description('decide a quarantined mail without acting on it (it stays kept, marked dropped)')
    .argument('<id>', 'quarantine id')
    .option('--as <supervisor>', 'who drops it (default: $MAILWARDEN_AS); a supervisor')
    .option('--json', `print ${ENTRY_SHAPE}`)
    .addHelpText('after', '\nExample:\n  mailwarden quarantine drop 4 --as sam')
    .action(
      action(async (id: string, opts: { as?: string; json?: boolean }) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { decideQuarantine } = await import('../../cases/quarantine.js');
        const { writeTx } = await import('../../db/connection.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          const entry = await writeTx(db, (tx) => decideQuarantine(tx, actor, quarantineId(id), 'dropped'));
          if (wantsJson(opts)) return printJson(entry);
          printLine(`Quarantined mail ${entry.id} dropped (${entry.reason as QuarantineReason}); it stays kept.`);
        });
      }),
    );
}
