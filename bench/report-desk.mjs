// bench/report-desk: the desk of bench/report (5 pools, 40 consultants, 2 departments, Europe/Warsaw),
// its config file, and the small helpers every part of the generator shares (a seeded PRNG, random
// hex, a new case's state). Why apart: bench/report-rows.mjs, bench/report-actions.mjs and
// bench/report-data.mjs all need the same names and addresses, and so does bench/report-verify.mjs.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';

export const MIN = 60_000;
export const HOUR = 60 * MIN;
export const DAY = 24 * HOUR;

export const PREFIX = 'ACME';
export const YEAR_START = Date.parse('2025-12-31T23:00:00Z'); // 2026-01-01 00:00 Europe/Warsaw
export const YEAR_END = Date.parse('2026-12-31T23:00:00Z'); // 2027-01-01 00:00 Europe/Warsaw

export const POOLS = [
  { id: 'cards', name: 'Payment cards', response_deadline: '8h', ms: 8 * HOUR, weight: 30 },
  { id: 'accounts', name: 'Accounts', response_deadline: '1d', ms: DAY, weight: 25 },
  { id: 'loans', name: 'Loans', response_deadline: '2d', ms: 2 * DAY, weight: 15 },
  { id: 'api', name: 'API and integrations', response_deadline: '2d', ms: 2 * DAY, weight: 10 },
  { id: 'general', name: 'General questions', response_deadline: '1d', ms: DAY, weight: 20 },
];
export const DEPARTMENTS = [
  { id: 'legal', name: 'Legal', email: 'legal@dept.bank.test', deadline: '2d', ms: 2 * DAY },
  { id: 'risk', name: 'Risk', email: 'risk@dept.bank.test', deadline: '1d', ms: DAY },
];
export const CONSULTANTS = Array.from({ length: 40 }, (_, i) => `c${String(i + 1).padStart(2, '0')}`);
export const SUPERVISORS = ['c01', 'c09', 'c17'];
export const INSTANCE_NAME = 'Bench Bank';
export const boxAddress = (pool) => `${pool}@bank.test`;
export const staffEmail = (c) => `${c}@staff.bank.test`;
export const staffName = (c) => `Consultant ${c.toUpperCase()}`;

/** The config the generated data belongs to: 5 pools (ratings on), 40 consultants, 2 departments. */
export function writeBenchConfig(dir) {
  const doc = {
    instance: {
      name: INSTANCE_NAME,
      case_prefix: PREFIX,
      data_dir: path.join(dir, 'data'),
      timezone: 'Europe/Warsaw',
      secret: 'bench-secret-0123456789-abcdefghijklmnop',
      log_level: 'warn',
    },
    smtp: { transport: 'file', outbox_dir: path.join(dir, 'outbox') },
    ingest: { listener: { enabled: false } },
    pools: POOLS.map((p) => ({ id: p.id, name: p.name, response_deadline: p.response_deadline, ratings: true, notify_overdue: [], languages: ['en'] })),
    mailboxes: POOLS.map((p) => ({ id: p.id, address: boxAddress(p.id), pool: p.id })),
    departments: DEPARTMENTS.map((d) => ({ id: d.id, name: d.name, email: d.email, deadline: d.deadline })),
    consultants: CONSULTANTS.map((id, i) => ({
      id,
      name: staffName(id),
      email: staffEmail(id),
      roles: SUPERVISORS.includes(id) ? ['consultant', 'supervisor'] : ['consultant'],
      pools: [
        { pool: POOLS[i % 5].id, priority: 1 },
        { pool: POOLS[(i + 1) % 5].id, priority: 2 },
      ],
    })),
  };
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'mailwarden.yaml');
  fs.writeFileSync(file, YAML.stringify(doc));
  return file;
}

// ---------------------------------------------------------------------------------------------
// Random numbers: a small seeded PRNG, so every run generates the same year.

export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HEX = '0123456789abcdef';
/** `n` random hex digits: a slice of a fixed random string at a random place (cheap, and random enough here). */
const hexPool = (() => {
  const rnd = mulberry32(7);
  let s = '';
  for (let i = 0; i < 1 << 16; i++) s += HEX[(rnd() * 16) | 0];
  return s;
})();
export function hexOf(rnd, n) {
  const at = (rnd() * (hexPool.length - n)) | 0;
  return hexPool.slice(at, at + n);
}

// ---------------------------------------------------------------------------------------------
// A case in memory, as its rows describe it.

export const iso = (ms) => new Date(ms).toISOString();
export const CLOSING = new Set(['solved', 'closed']);

/** A new case's state in memory, as the `cases` row starts. */
export function newCase(pool, received, customer) {
  const p = POOLS.find((x) => x.id === pool);
  return {
    id: null,
    pool_id: pool,
    mailbox_id: pool,
    subject: customer.subject,
    customer_address: customer.address,
    customer_name: customer.name,
    customerSeq: customer.seq,
    received_at: iso(received),
    deadline_at: iso(received + p.ms),
    deadlineMs: received + p.ms,
    status: 'received',
    assignee: null,
    first_response_at: null,
    closed_at: null,
    overdue_notified_at: null,
    updated_at: null,
    version: 0,
    thread: [],
    lastCustomerId: null,
    lastReply: null,
    waiting: [],
    lastClosing: null,
    consultedAt: null,
  };
}
