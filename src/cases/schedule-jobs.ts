// What the daemon's scheduler does on each tick (DESIGN: node-cron for deadlines and reminders).
// Each case is handled in its own write transaction that re-checks the condition, so a case is
// woken or notified once even if two daemons or two ticks overlap.
import type { Kysely } from 'kysely';
import { now, nowIso } from '../clock.js';
import { formatInZone } from '../time-format.js';
import { listQuarantine } from './quarantine.js';
import { MailwardenError } from '../errors.js';
import type { Config, ConsultantConfig } from '../config/types.js';
import { writeTx, type Db } from '../db/connection.js';
import type { DB, OutboxKind } from '../db/schema.js';
import type { TemplateName } from '../config/templates.js';
import { boxSender, queueMail } from '../outbound/queue.js';
import { isSupervisor, poolSupervisors } from './actors.js';
import { changeCase, recordEvent } from '../db/history.js';
import { setStatus } from './status.js';
import { onDuty } from './absence.js';
import { handOverIfAway } from './absence-moves.js';
import { DEADLINE_RUNNING, type CaseRow } from './view.js';

const SCHEDULER_ACTOR = 'daemon';
const BATCH = 200;

export interface JobResult {
  handled: string[];
  failed: Array<{ caseId: string; error: string }>;
}

/** Staff a notice about a case goes to: its assignee, else the pool's supervisors. */
function caseWatchers(config: Config, row: CaseRow): ConsultantConfig[] {
  const assignee = row.assignee ? config.consultants.find((c) => c.id === row.assignee) : undefined;
  return assignee ? [assignee] : poolSupervisors(config, row.pool_id);
}

/** An address in a pool's `notify_overdue` that is no consultant's: told, but not staff, so given no token. */
interface Outsider {
  email: string;
}
type Recipient = ConsultantConfig | Outsider;

/** A `notify_overdue` entry: a consultant by id, or by one of their addresses, else the address itself. */
function recipientNamed(config: Config, entry: string): Recipient | undefined {
  if (!entry.includes('@')) return config.consultants.find((c) => c.id === entry);
  const address = entry.toLowerCase();
  return config.consultants.find((c) => c.email === address || c.aliases.includes(address)) ?? { email: address };
}

/**
 * Who is told that a case is overdue (SPEC §5C): its assignee (or who stands in for them, SPEC §5D)
 * and the pool's `notify_overdue` list, or without one the pool's supervisors; each once, however
 * often they are named.
 */
function overdueRecipients(config: Config, row: CaseRow, assignee: ConsultantConfig | null): Recipient[] {
  const list = config.pools.find((p) => p.id === row.pool_id)?.notify_overdue;
  const others = list ? list.map((n) => recipientNamed(config, n)) : poolSupervisors(config, row.pool_id);
  const byAddress = new Map<string, Recipient>();
  for (const r of [assignee, ...others]) if (r && !byAddress.has(r.email)) byAddress.set(r.email, r);
  return [...byAddress.values()];
}

/**
 * Queues a notice about a case to each recipient in `to`, one mail each, so each member of staff
 * gets their own reply token (SPEC §5A); an outsider's mail carries none. `noticeKey` names this
 * one notice (kind, case, the time it is about): the outbox holds each key once per recipient, so
 * no tick, daemon or retry sends it twice.
 */
async function notifyStaff(
  tx: Kysely<DB>,
  config: Config,
  row: CaseRow,
  kind: OutboxKind,
  template: TemplateName,
  to: Recipient[],
  noticeKey: string,
): Promise<number[]> {
  const box = config.mailboxes.find((m) => m.id === row.mailbox_id) ?? config.mailboxes[0];
  if (!box) return [];
  const ids: number[] = [];
  for (const r of to) {
    const c = 'id' in r ? r : null;
    const queued = await queueMail(tx, {
      config,
      caseId: row.id,
      kind,
      template,
      scope: { pool: row.pool_id, mailbox: box.id },
      from: { address: box.address, name: config.instance.name },
      to: [c ? { address: c.email, name: c.name } : { address: r.email }],
      vars: c ? { consultant: { id: c.id, name: c.name, email: c.email } } : {},
      messageKind: 'notification',
      author: null,
      autoSubmitted: 'auto-generated',
      noticeKey: `${noticeKey}:${c ? c.id : r.email}`,
      ...(c ? { token: { purpose: 'reply' as const, ref: null, recipient: { kind: 'consultant' as const, id: c.id } } } : {}),
    });
    ids.push(queued.outboxId);
  }
  return ids;
}

/**
 * Runs `fn` for each case in its own write transaction, on the case as it is now (read again
 * inside the transaction, so `fn` re-checks the condition the listing saw).
 */
async function eachCase(db: Db, ids: Array<{ id: string }>, fn: (tx: Kysely<DB>, row: CaseRow) => Promise<boolean>): Promise<JobResult> {
  const result: JobResult = { handled: [], failed: [] };
  for (const { id } of ids) {
    try {
      const handled = await writeTx(db, async (tx) => {
        const row = await tx.selectFrom('cases').selectAll().where('id', '=', id).executeTakeFirst();
        return row ? fn(tx, row) : false;
      });
      if (handled) result.handled.push(id);
    } catch (err) {
      // Another daemon or tick handled the case at the same moment: its work stands, ours rolled back.
      if (err instanceof MailwardenError && err.code === 'ECONFLICT') continue;
      result.failed.push({ caseId: id, error: (err as Error).message });
    }
  }
  return result;
}

/**
 * Postponed cases whose reminder time has come: back to in_progress, the assignee told by mail (an
 * unassigned one, whose consultant went away, back to the pool, its pool's supervisors told).
 */
export async function wakeDueReminders(db: Db, config: Config): Promise<JobResult> {
  const due = await db
    .selectFrom('cases')
    .select('id')
    .where('status', '=', 'postponed')
    .where('remind_at', '<=', nowIso())
    .orderBy('remind_at')
    .limit(BATCH)
    .execute();
  return eachCase(db, due, async (tx, row) => {
    if (row.status !== 'postponed' || row.remind_at === null || row.remind_at > nowIso()) return false;
    // An absent assignee's case goes to who stands in (or the pool) first, so they get the notice (SPEC §5D).
    const current = await handOverIfAway(tx, config, row.id, nowIso());
    // Rendered before the status change, so the mail can say when the reminder was set for.
    const outbox = await notifyStaff(tx, config, current, 'reminder', 'reminder', caseWatchers(config, current), `reminder:${row.id}:${row.remind_at}`);
    await setStatus(tx, current, SCHEDULER_ACTOR, { status: 'in_progress' });
    await recordEvent(tx, { caseId: row.id, actor: SCHEDULER_ACTOR, kind: 'reminder', to: current.assignee, data: { outbox } });
    return true;
  });
}

/**
 * Open cases past their response deadline that nobody was told about yet: told once, by mail, to
 * the assignee and the supervisors or the pool's `notify_overdue` list (overdueRecipients).
 */
export async function notifyOverdueCases(db: Db, config: Config): Promise<JobResult> {
  const due = await db
    .selectFrom('cases')
    .select('id')
    .where('status', 'in', [...DEADLINE_RUNNING])
    .where('deadline_at', '<', nowIso())
    .where('overdue_notified_at', 'is', null)
    .orderBy('deadline_at')
    .limit(BATCH)
    .execute();
  return eachCase(db, due, async (tx, row) => {
    if (row.overdue_notified_at !== null || !DEADLINE_RUNNING.includes(row.status) || row.deadline_at >= nowIso()) return false;
    const assignee = row.assignee ? await onDuty(tx, config, row.assignee) : null;
    const watchers = overdueRecipients(config, row, assignee);
    const outbox = await notifyStaff(tx, config, row, 'case_overdue', 'case-overdue', watchers, `case_overdue:${row.id}:${row.deadline_at}`);
    await changeCase(tx, row.id, SCHEDULER_ACTOR, { overdue_notified_at: nowIso() }, { expectVersion: row.version });
    await recordEvent(tx, {
      caseId: row.id,
      actor: SCHEDULER_ACTOR,
      kind: 'overdue_notice',
      to: watchers.map((w) => ('id' in w ? w.id : w.email)).join(',') || null,
      data: { outbox },
    });
    return true;
  });
}

/**
 * While mail waits in quarantine, each supervisor is told once a day (SPEC §5A). The key names
 * the day in the instance time zone and the supervisor, so ticks, restarts and several daemons
 * send it once.
 */
export async function notifyQuarantine(db: Db, config: Config): Promise<JobResult> {
  const result: JobResult = { handled: [], failed: [] };
  const held = await listQuarantine(db);
  if (held.length === 0) return result;
  const box = config.mailboxes[0];
  if (!box) return result;
  const day = formatInZone(now(), config.instance.timezone, false).slice(0, 10);
  const reasons = [...new Set(held.map((q) => q.reason))].join(', ');
  for (const supervisor of config.consultants.filter(isSupervisor)) {
    const noticeKey = `quarantine:${day}:${supervisor.id}`;
    try {
      const sent = await writeTx(db, async (tx) => {
        if (await tx.selectFrom('outbox').select('id').where('notice_key', '=', noticeKey).executeTakeFirst()) return false;
        await queueMail(tx, {
          config,
          caseId: null,
          kind: 'supervisor_alert',
          template: 'quarantine-notice',
          scope: { mailbox: box.id, pool: box.pool },
          from: boxSender(config, box),
          to: [{ address: supervisor.email, name: supervisor.name }],
          vars: {
            consultant: { id: supervisor.id, name: supervisor.name, email: supervisor.email },
            quarantine: { count: held.length, reasons, oldest_local: formatInZone(new Date(held[0]!.at), config.instance.timezone, false) },
          },
          messageKind: null,
          autoSubmitted: 'auto-generated',
          noticeKey,
        });
        return true;
      });
      if (sent) result.handled.push(noticeKey);
    } catch (err) {
      result.failed.push({ caseId: noticeKey, error: (err as Error).message });
    }
  }
  return result;
}
