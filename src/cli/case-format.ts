// Plain-text rendering of cases for the terminal: listings, the full thread, history. Colour only
// through paint(), so pipes and tests see plain text; overdue is also marked with an icon so it
// shows without colour.
import type { CaseDetail, ConsultationDetail, HistoryView, MessageView, ViewerView } from '../cases/queries.js';
import { STAFF_KINDS } from '../cases/queries.js';
import type { CaseView } from '../cases/view.js';
import type { LinkView } from '../cases/case-links.js';
import type { PoolCounts } from '../cases/pool-counts.js';
import { formatInZone } from '../time-format.js';
import { formatTable, paint } from './output.js';

const OVERDUE_MARK = '⚠ OVERDUE';
const CONSULT_OVERDUE_MARK = '⚠ CONSULTATION OVERDUE';

/** `YYYY-MM-DD HH:MM` in the instance time zone. */
export function localTime(iso: string | null, timeZone: string): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return formatInZone(d, timeZone, false);
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}

function priorityCell(p: CaseView['priority']): string {
  if (p === 'urgent') return paint('red', p);
  if (p === 'high') return paint('yellow', p);
  return p;
}

function deadlineCell(c: CaseView, tz: string): string {
  const text = localTime(c.deadline_at, tz);
  return c.overdue ? paint('red', `${text} ${OVERDUE_MARK}`) : text;
}

function consultationText(c: CaseView, tz: string): string {
  if (!c.consultation) return '-';
  const text = `${c.consultation.dept} until ${localTime(c.consultation.deadline_at, tz)}`;
  return c.consultation.overdue ? paint('red', `${text} ${OVERDUE_MARK}`) : text;
}

/** The status, and a mark when the department the case waits for is past its deadline. */
function statusCell(c: CaseView): string {
  return c.consultation?.overdue ? paint('red', `${c.status} ${CONSULT_OVERDUE_MARK}`) : c.status;
}

export function formatCaseTable(cases: CaseView[], tz: string): string {
  const rows = cases.map((c) => [
    c.id,
    statusCell(c),
    priorityCell(c.priority),
    c.pool,
    c.assignee ?? '-',
    localTime(c.received_at, tz),
    deadlineCell(c, tz),
    clip(c.subject, 50),
  ]);
  return formatTable(['CASE', 'STATUS', 'PRIORITY', 'POOL', 'ASSIGNEE', 'RECEIVED', 'DEADLINE', 'SUBJECT'], rows);
}

const POOL_COLUMNS: Array<[header: string, key: keyof PoolCounts]> = [
  ['TOTAL', 'total'],
  ['OPEN', 'open'],
  ['UNANSWERED', 'unanswered'],
  ['OVERDUE', 'overdue'],
  ['UNDER CONSULTATION', 'under_consultation'],
];

/** Pools and their counts; numbers right-aligned under their headers, overdue ones in red. */
export function formatPoolTable(pools: PoolCounts[]): string {
  const rows = pools.map((p) => [
    p.id,
    p.name,
    ...POOL_COLUMNS.map(([header, key]) => {
      const cell = String(p[key]).padStart(header.length);
      return key === 'overdue' && p.overdue > 0 ? paint('red', cell) : cell;
    }),
  ]);
  return formatTable(['POOL', 'NAME', ...POOL_COLUMNS.map(([header]) => header)], rows);
}

function formatCaseHeader(c: CaseView, tz: string): string {
  const customer = c.customer.name ? `${c.customer.name} <${c.customer.address}>` : c.customer.address;
  const lines = [
    `${paint('bold', c.id)}  ${c.status}  priority ${priorityCell(c.priority)}  pool ${c.pool}  mailbox ${c.mailbox}`,
    `Subject:      ${c.subject}`,
    `Customer:     ${customer}${c.language ? `  (language ${c.language})` : ''}`,
    `Assignee:     ${c.assignee ?? '-'}`,
    `Received:     ${localTime(c.received_at, tz)}`,
    `Deadline:     ${deadlineCell(c, tz)}`,
    `Consultation: ${consultationText(c, tz)}`,
  ];
  if (c.labels.length) lines.push(`Labels:       ${c.labels.join(', ')}`);
  if (c.flags.length) lines.push(`Flags:        ${c.flags.join(', ')}`);
  return lines.join('\n');
}

/** Consultant ids to names, for telling staff apart in a thread. */
export type StaffNames = (id: string) => string;

function byline(m: MessageView, names: StaffNames): string {
  if (!m.author) return '';
  return ` by ${names(m.author)}${m.flags.includes('via_mail') ? ' (from their mail client)' : ''}`;
}

/** How mail from outside is labelled, by its role: never "customer" for a copy, an out-of-office or a bounce. */
const INBOUND_LABELS: Partial<Record<MessageView['role'], string>> = {
  customer: 'customer',
  cc: 'copied participant',
  other: 'other sender',
  automatic_reply: 'automatic reply',
  bounce: 'bounce',
  delivery_report: 'delivery report',
};

function whoLabel(m: MessageView, names: StaffNames): string {
  if (m.kind === 'comment') return paint('yellow', `internal comment${byline(m, names)}`);
  if (m.kind === 'inbound') return paint(m.role === 'customer' ? 'blue' : 'grey', INBOUND_LABELS[m.role] ?? m.role);
  if (m.kind === 'consult_in') return paint('magenta', 'department');
  if (m.kind === 'consult_out') return paint('magenta', `consultation${byline(m, names)}`);
  if (m.kind === 'outbound') return paint('green', `reply${byline(m, names)}`);
  if (STAFF_KINDS.includes(m.kind)) return paint('green', m.kind.replace('_', '-'));
  return m.kind;
}

function formatQuarantined(d: CaseDetail, tz: string): string[] {
  return d.quarantined.map(
    (q) =>
      `${paint('red', '── quarantined staff mail')}  ${q.from ?? '-'}  ${localTime(q.at, tz)}  [${q.state}]\n   ${q.reason}: ${q.detail ?? ''}\n   mailwarden quarantine show ${q.id}\n`,
  );
}

function formatRatings(d: CaseDetail, tz: string, names: StaffNames): string[] {
  if (d.ratings.length === 0) return [];
  const lines = d.ratings.map((r) => {
    const head = `  ${r.score.padEnd(5)}  the reply of ${localTime(r.reply_at, tz)} by ${r.consultant ? names(r.consultant) : '-'}  from ${r.customer}  ${localTime(r.at, tz)}`;
    return r.comment ? `${head}\n     "${clip(r.comment.replace(/\s+/g, ' '), 200)}"` : head;
  });
  return ['Ratings:', ...lines, ''];
}

const RELATION_TEXT: Record<LinkView['relation'], string> = {
  linked_to: 'linked to',
  linked_from: 'linked from',
  merged_into: 'merged into',
  merged_from: 'merged from',
};

function formatLinks(d: CaseDetail): string[] {
  if (d.links.length === 0) return [];
  return ['Links:', ...d.links.map((l) => `  ${RELATION_TEXT[l.relation].padEnd(11)}  ${l.case}  ${l.status}  ${clip(l.subject, 60)}`)];
}

function formatAnswers(d: CaseDetail, tz: string, names: StaffNames): string[] {
  if (d.answers.length === 0) return [];
  return ['Answers:', ...d.answers.map((a) => `  ${a.key} = ${a.value}  (${names(a.by)}, ${localTime(a.at, tz)})`)];
}

function formatSize(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

function formatMessage(m: MessageView, tz: string, names: StaffNames): string {
  const state = m.state && m.state !== 'sent' ? `  [${m.state}]` : m.state === 'sent' ? '  [sent]' : '';
  const head = `── ${whoLabel(m, names)}  ${m.from ?? '-'}  ${localTime(m.at, tz)}${state}`;
  const lines = [head];
  if (m.to.length) lines.push(paint('grey', `   to ${m.to.join(', ')}`));
  lines.push('', m.text.trimEnd());
  for (const a of m.attachments) lines.push(`   📎 ${a.name ?? '(unnamed)'} (${a.type}, ${formatSize(a.size)})`);
  return lines.join('\n');
}

function formatHistory(history: HistoryView[], tz: string): string {
  return history
    .map((h) => {
      const what = h.field ? `${h.field}: ${h.from ?? '-'} → ${h.to ?? '-'}` : h.kind + (h.to ? ` ${h.to}` : '');
      return `  ${localTime(h.at, tz)}  ${h.actor.padEnd(10)}  ${what}`;
    })
    .join('\n');
}

function formatViewers(viewers: ViewerView[], tz: string): string {
  if (viewers.length === 0) return '';
  return paint('cyan', `Also looking at it: ${viewers.map((v) => `${v.consultant} (since ${localTime(v.at, tz)})`).join(', ')}`);
}

function formatConsultation(c: ConsultationDetail, tz: string, names: StaffNames): string {
  const head = `  #${c.id} ${c.dept.padEnd(10)} ${c.state.padEnd(9)} asked by ${names(c.consultant)} ${localTime(c.sent_at, tz)}`;
  const due = `due ${localTime(c.deadline_at, tz)}`;
  const end =
    c.state === 'answered'
      ? `answered ${localTime(c.answered_at, tz)}${c.overdue ? ' (late)' : ''}`
      : c.state === 'withdrawn'
        ? `withdrawn by ${c.withdrawn_by ?? '-'}`
        : '';
  const text = `${head}  ${due}${end ? `  ${end}` : ''}`;
  return c.overdue && c.state === 'open' ? paint('red', `${text} ${OVERDUE_MARK}`) : text;
}

export function formatCaseDetail(d: CaseDetail, tz: string, names: StaffNames = (id) => id): string {
  const parts = [formatCaseHeader(d.case, tz)];
  parts.push(...formatLinks(d), ...formatAnswers(d, tz, names));
  if (d.consultations.length) parts.push('Consultations:', ...d.consultations.map((c) => formatConsultation(c, tz, names)));
  const viewers = formatViewers(d.viewers, tz);
  if (viewers) parts.push(viewers);
  parts.push('', ...d.messages.map((m) => formatMessage(m, tz, names) + '\n'), ...formatQuarantined(d, tz), ...formatRatings(d, tz, names));
  if (d.history.length) parts.push('History:', formatHistory(d.history, tz));
  return parts.join('\n');
}
