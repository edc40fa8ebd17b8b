// Helpers of the GDPR tests (test/cases/gdpr.test.ts): reading a ZIP archive back, dumping every
// value of every table to search it, and the report figures of SPEC §6 computed straight from the
// database with SQL (there is no report module yet), so they can be compared before and after an
// erasure.
import crypto from 'node:crypto';
import yauzl from 'yauzl';
import { sql } from 'kysely';
import type { Db } from '../../src/db/connection';

export function sha256(bytes: Buffer | string): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** Every entry of a ZIP file: name -> bytes. */
export function readZip(file: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('no zip'));
      const out = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error('no stream'));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
          stream.on('error', reject);
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

/** Every value of every table, as text (blobs read as latin1), with where it was found. */
export async function dumpDatabase(db: Db): Promise<Array<{ where: string; text: string }>> {
  // kysely's introspection lists the tables on SQLite and on PostgreSQL alike.
  const tables = await db.introspection.getTables({ withInternalKyselyTables: true });
  const out: Array<{ where: string; text: string }> = [];
  for (const { name } of tables) {
    const rows = await sql<Record<string, unknown>>`select * from ${sql.table(name)}`.execute(db);
    rows.rows.forEach((row, i) => {
      for (const [column, value] of Object.entries(row)) {
        if (value === null || value === undefined) continue;
        const text =
          Buffer.isBuffer(value) || value instanceof Uint8Array
            ? Buffer.from(value).toString('latin1')
            : typeof value === 'string'
              ? value
              : JSON.stringify(value);
        out.push({ where: `${name}[${i}].${column}`, text });
      }
    });
  }
  return out;
}

/** Places in the dump that contain any of the needles, ignoring case. */
export function findInDump(dump: Array<{ where: string; text: string }>, needles: string[]): string[] {
  const lower = needles.map((n) => n.toLowerCase());
  return dump.filter((d) => lower.some((n) => d.text.toLowerCase().includes(n))).map((d) => `${d.where}: ${d.text.slice(0, 120)}`);
}

const median = (xs: number[]) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
};
const p90 = (xs: number[]) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)]!;
};

/**
 * The figures of SPEC §6 for a period, globally and per consultant (who closed the case): e-mails
 * received; cases closed on time / late, with / without consulting; consultations before / past
 * the department deadline; feedback messages after closing; first-response and resolution times
 * (median, p90, in seconds); message counts per kind.
 */
export async function reportFigures(db: Db, from: string, to: string): Promise<Record<string, unknown>> {
  const received = await sql<{ n: number }>`select count(*) as n from messages where kind = 'inbound' and at >= ${from} and at < ${to}`.execute(db);
  const kinds = await sql<{ kind: string; n: number }>`select kind, count(*) as n from messages group by kind order by kind`.execute(db);
  const closed = await sql<{
    id: string;
    received_at: string;
    deadline_at: string;
    first_response_at: string | null;
    closed_at: string;
    closer: string | null;
    consulted: number;
    feedback: number;
    pool_id: string;
    assignee: string | null;
    status: string;
  }>`
    select c.id, c.received_at, c.deadline_at, c.first_response_at, c.closed_at, c.pool_id, c.assignee, c.status,
      (select e.actor from case_events e where e.case_id = c.id and e.field = 'status' and e.to_value in ('solved', 'closed') order by e.id desc limit 1) as closer,
      (select count(*) from consultations k where k.case_id = c.id) as consulted,
      (select count(*) from messages m where m.case_id = c.id and m.is_feedback = 1) as feedback
    from cases c
    where c.status in ('solved', 'closed') and c.closed_at >= ${from} and c.closed_at < ${to}
    order by c.id`.execute(db);
  const consultations = await sql<{ dept_id: string; consultant: string; in_time: number; late: number }>`
    select dept_id, consultant,
      sum(case when answered_at is not null and answered_at <= deadline_at then 1 else 0 end) as in_time,
      sum(case when answered_at is null or answered_at > deadline_at then 1 else 0 end) as late
    from consultations where sent_at >= ${from} and sent_at < ${to} group by dept_id, consultant order by dept_id, consultant`.execute(db);
  const per = new Map<string, Record<string, unknown>>();
  const secs = (a: string, b: string) => (Date.parse(b) - Date.parse(a)) / 1000;
  const byCloser = new Map<string, typeof closed.rows>();
  for (const c of closed.rows) byCloser.set(c.closer ?? '-', [...(byCloser.get(c.closer ?? '-') ?? []), c]);
  for (const [closer, rows] of byCloser) {
    const onTime = (c: (typeof rows)[number]) => c.closed_at <= c.deadline_at;
    per.set(closer, {
      closed: rows.length,
      on_time_without_consulting: rows.filter((c) => onTime(c) && !c.consulted).length,
      on_time_with_consulting: rows.filter((c) => onTime(c) && c.consulted).length,
      late_with_consulting: rows.filter((c) => !onTime(c) && c.consulted).length,
      late_without_consulting: rows.filter((c) => !onTime(c) && !c.consulted).length,
      feedback_after_closing: rows.reduce((n, c) => n + Number(c.feedback), 0),
      first_response: {
        median: median(rows.filter((c) => c.first_response_at).map((c) => secs(c.received_at, c.first_response_at!))),
        p90: p90(rows.filter((c) => c.first_response_at).map((c) => secs(c.received_at, c.first_response_at!))),
      },
      resolution: { median: median(rows.map((c) => secs(c.received_at, c.closed_at))), p90: p90(rows.map((c) => secs(c.received_at, c.closed_at))) },
      cases: rows.map((c) => ({ id: c.id, pool: c.pool_id, assignee: c.assignee, status: c.status, deadline_at: c.deadline_at })),
    });
  }
  return {
    received: Number(received.rows[0]!.n),
    kinds: kinds.rows,
    consultations: consultations.rows,
    per_consultant: Object.fromEntries([...per.entries()].sort(([a], [b]) => a.localeCompare(b))),
  };
}
