// Overdue consultations (SPEC §5C): once a department's deadline has passed without its answer,
// the consultant, the department and the department's `notify_overdue` list are told, once per
// deadline. A consultation answered late is told as well (once, saying when the answer came), so
// whether a notice goes out never depends on whether a tick fell between the deadline and the
// answer. The claim is one compare-and-set on `overdue_notified_at` in the transaction that queues
// the notices, and each notice has its own `notice_key`: ticks, restarts, reloads and several
// daemons send each notice once.
import type { Kysely } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config, ConsultantConfig, DepartmentConfig } from '../config/types.js';
import { writeTx, type Db } from '../db/connection.js';
import type { DB } from '../db/schema.js';
import { recordEvent } from '../db/history.js';
import { boxSender, queueMail, type QueueMailInput } from '../outbound/queue.js';
import { formatInZone } from '../time-format.js';
import { onDuty } from './absence.js';
import type { ConsultationRow } from './consultations.js';
import type { JobResult } from './schedule-jobs.js';

const BATCH = 200;
const SCHEDULER_ACTOR = 'daemon';

interface Recipient {
  key: string;
  address: string;
  name?: string;
  token: QueueMailInput['token'];
}

/** The consultant who asked (or who stands in for them), the department, and its notify_overdue list (ids or addresses), each once. */
function recipients(config: Config, c: ConsultationRow, dept: DepartmentConfig | undefined, asker: ConsultantConfig | null): Recipient[] {
  const out: Recipient[] = [];
  const addConsultant = (id: string | undefined) => {
    const who = config.consultants.find((x) => x.id === id);
    if (who)
      out.push({
        key: `consultant:${who.id}`,
        address: who.email,
        name: who.name,
        token: { purpose: 'reply', ref: null, recipient: { kind: 'consultant', id: who.id } },
      });
  };
  addConsultant(asker?.id);
  if (dept) {
    // Their answer to the notice is the answer to the consultation.
    out.push({
      key: `department:${dept.id}`,
      address: dept.email,
      name: dept.name,
      token: { purpose: 'consult', ref: c.id, recipient: { kind: 'department', id: dept.id } },
    });
    for (const entry of dept.notify_overdue) {
      if (entry.includes('@')) out.push({ key: `address:${entry.toLowerCase()}`, address: entry, token: undefined });
      else addConsultant(entry);
    }
  }
  const seen = new Set<string>();
  return out.filter((r) => {
    const address = r.address.toLowerCase();
    if (seen.has(address)) return false;
    seen.add(address);
    return true;
  });
}

/** Consultations past their deadline, unanswered or answered late, whose notice is not out yet. */
function dueConsultations(db: Kysely<DB>, at: string) {
  return db
    .selectFrom('consultations')
    .select('id')
    .where('overdue_notified_at', 'is', null)
    .where('deadline_at', '<', at)
    .where('state', '!=', 'withdrawn')
    .where((eb) => eb.or([eb('answered_at', 'is', null), eb('answered_at', '>', eb.ref('deadline_at'))]))
    .orderBy('deadline_at')
    .limit(BATCH)
    .execute();
}

export async function notifyOverdueConsultations(db: Db, config: Config): Promise<JobResult> {
  const result: JobResult = { handled: [], failed: [] };
  for (const { id } of await dueConsultations(db, nowIso())) {
    try {
      const caseId = await writeTx(db, (tx) => notifyOne(tx, config, id));
      if (caseId) result.handled.push(caseId);
    } catch (err) {
      result.failed.push({ caseId: `consultation ${id}`, error: (err as Error).message });
    }
  }
  return result;
}

/** Claims the consultation's notice and queues it to each recipient; null when another tick or daemon had it. */
async function notifyOne(tx: Kysely<DB>, config: Config, id: number): Promise<string | null> {
  const at = nowIso();
  const claimed = await tx
    .updateTable('consultations')
    .set({ overdue_notified_at: at })
    .where('id', '=', id)
    .where('overdue_notified_at', 'is', null)
    .executeTakeFirst();
  if (Number(claimed.numUpdatedRows) !== 1) return null;
  const c = await tx.selectFrom('consultations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const row = await tx.selectFrom('cases').select(['id', 'pool_id', 'mailbox_id']).where('id', '=', c.case_id).executeTakeFirstOrThrow();
  const box = config.mailboxes.find((m) => m.id === row.mailbox_id) ?? config.mailboxes[0];
  const dept = config.departments.find((d) => d.id === c.dept_id);
  const asker = config.consultants.find((x) => x.id === c.consultant);
  const tz = config.instance.timezone;
  const sent: Array<{ to: string; outbox: number }> = [];
  const onDutyForAsker = await onDuty(tx, config, c.consultant, at);
  for (const r of box ? recipients(config, c, dept, onDutyForAsker) : []) {
    const queued = await queueMail(tx, {
      config,
      caseId: row.id,
      kind: 'consultation_overdue',
      template: 'consultation-overdue',
      scope: { pool: row.pool_id, mailbox: box!.id },
      from: boxSender(config, box!),
      to: [{ address: r.address, ...(r.name ? { name: r.name } : {}) }],
      vars: {
        consultant: asker ? { id: asker.id, name: asker.name, email: asker.email } : { id: c.consultant, name: c.consultant },
        department: { id: c.dept_id, name: dept?.name ?? c.dept_id },
        consultation: {
          id: c.id,
          deadline_at: c.deadline_at,
          deadline_local: formatInZone(new Date(c.deadline_at), tz, true),
          answered_local: c.answered_at ? formatInZone(new Date(c.answered_at), tz, true) : '',
        },
      },
      messageKind: 'notification',
      author: null,
      autoSubmitted: 'auto-generated',
      noticeKey: `consultation_overdue:${c.id}:${c.deadline_at}:${r.key}`,
      ...(r.token ? { token: r.token } : {}),
    });
    sent.push({ to: r.key, outbox: queued.outboxId });
  }
  await recordEvent(tx, {
    caseId: row.id,
    actor: SCHEDULER_ACTOR,
    kind: 'overdue_notice',
    field: 'consultation',
    to: sent.map((s) => s.to).join(',') || null,
    at,
    data: { consultation: c.id, dept: c.dept_id, deadline_at: c.deadline_at, answered_late: c.answered_at !== null, outbox: sent.map((s) => s.outbox) },
  });
  return row.id;
}
