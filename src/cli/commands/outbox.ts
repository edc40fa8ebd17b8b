// `mailwarden outbox`: what mailwarden has sent or is trying to send. `outbox retry <id>` queues a
// failed row again; the hidden `outbox drain` sends what is due without the daemon (operations
// and tests).
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import type { OutboxEntry } from '../../outbound/outbox.js';
import { openApp, withApp, type GlobalOptions } from '../app.js';
import { formatTable, paint, printJson, printLine } from '../output.js';
import { action } from '../run.js';

interface ListOptions {
  state?: string;
  case?: string;
  kind?: string;
  limit?: string;
  json?: boolean;
}

function positiveInt(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw usageError('EBADNUMBER', `${what} wants a positive whole number, not "${text}".`);
  return n;
}

function stateCell(state: string): string {
  if (state === 'failed' || state === 'bounced') return paint('red', state);
  if (state === 'sent') return paint('green', state);
  return paint('yellow', state);
}

function printEntries(entries: OutboxEntry[]): void {
  const rows = entries.map((e) => [
    String(e.id),
    stateCell(e.state),
    e.kind,
    e.case ?? '-',
    e.to.join(', '),
    String(e.attempts),
    e.state === 'sent' ? (e.sent_at ?? '') : e.state === 'queued' ? `next ${e.next_attempt_at}` : (e.last_error ?? ''),
  ]);
  printLine(formatTable(['ID', 'STATE', 'KIND', 'CASE', 'TO', 'TRIES', 'SENT / NEXT / ERROR'], rows));
}

export function register(program: Command): void {
  const outbox = program
    .command('outbox')
    .description('list outgoing mail and its delivery state (queued, sent, failed…), newest first')
    .option('--state <list>', 'only these states, comma-separated (queued,held,sending,sent,failed,bounced,rejected)')
    .option('--case <case>', 'only mail of this case')
    .option('--kind <kind>', 'only this kind (auto_response, reply, consultation, …)')
    .option('--limit <n>', 'at most n rows, newest first', '50')
    .option(
      '--json',
      'print an array of {id, state, kind, case, message_id, from, to, subject, attempts, created_at, next_attempt_at, sent_at, last_error, smtp_response}',
    )
    .addHelpText('after', '\nExample:\n  mailwarden outbox --state failed\n  mailwarden outbox retry 17 --as maria')
    .action(
      action(async (opts: ListOptions) => {
        const { listOutbox, outboxCounts } = await import('../../outbound/outbox.js');
        await withApp(program.opts<GlobalOptions>(), async ({ db }) => {
          const entries = await listOutbox(db, {
            ...(opts.state
              ? {
                  state: opts.state
                    .split(',')
                    .map((s) => s.trim())
                    .filter(Boolean),
                }
              : {}),
            ...(opts.case ? { caseId: opts.case } : {}),
            ...(opts.kind ? { kind: opts.kind } : {}),
            ...(opts.limit ? { limit: positiveInt(opts.limit, '--limit') } : {}),
          });
          if (opts.json) return printJson(entries);
          const counts = await outboxCounts(db);
          printLine(
            Object.keys(counts).length === 0
              ? 'The outbox is empty.'
              : Object.entries(counts)
                  .map(([s, n]) => `${n} ${s}`)
                  .join(', '),
          );
          if (entries.length > 0) printEntries(entries);
        });
      }),
    );

  outbox
    .command('retry <id>')
    .description('queue a failed or bounced row again (supervisors and admins)')
    .option('--as <consultant>', 'who acts (or MAILWARDEN_AS)')
    .addHelpText('after', '\nExample:\n  mailwarden outbox retry 17 --as maria')
    .action(
      action(async (id: string, opts: { as?: string }) => {
        const { isSupervisor, resolveActor } = await import('../../cases/actors.js');
        const { writeTx } = await import('../../db/connection.js');
        const { retryOutbox } = await import('../../outbound/outbox.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          const actor = resolveActor(config, opts.as);
          if (!isSupervisor(actor) && !actor.roles.includes('admin')) {
            throw usageError('EFORBIDDEN', `${actor.id} may not retry outgoing mail; supervisors and admins may.`);
          }
          const rowId = positiveInt(id, 'outbox retry');
          await writeTx(db, (tx) => retryOutbox(tx, rowId, actor.id));
          printLine(`Outbox row ${rowId} is queued again; the running daemon sends it shortly.`);
        });
      }),
    );

  outbox
    .command('drain', { hidden: true })
    .description('send every outbox row that is due, without the daemon, then exit')
    .option('--wait', 'keep going until nothing is queued, waiting out retry backoff')
    .addHelpText('after', '\nExample:\n  mailwarden outbox drain --wait')
    .action(
      action(async (opts: { wait?: boolean }) => {
        const { createLogger, logEvent } = await import('../../log.js');
        const { nextDueAt } = await import('../../outbound/claims.js');
        const { now } = await import('../../clock.js');
        const app = await openApp(program.opts<GlobalOptions>(), { logger: createLogger({ name: 'mailwarden-drain' }) });
        let stopping = false;
        const stop = () => {
          stopping = true;
        };
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
        let total = 0;
        // nodemailer loads only for this subcommand, so listing the outbox starts fast.
        const { drainOnce } = await import('../../outbound/drainer.js');
        try {
          for (;;) {
            total += await drainOnce(app, { shouldStop: () => stopping });
            if (stopping || !opts.wait) break;
            const next = await nextDueAt(app.db);
            if (next === null) break;
            await new Promise((r) => setTimeout(r, Math.min(5_000, Math.max(50, Date.parse(next) - now().getTime()))));
          }
        } finally {
          await app.close();
        }
        app.log.info(logEvent('outbox.drained', { rows: total }), 'outbox drained');
      }),
    );
}
