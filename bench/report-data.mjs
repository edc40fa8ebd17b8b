// bench/report-data: a year of a busy desk, written straight into a real mailwarden database, for
// bench/report.mjs. Why not through the domain functions: a million cases through replyToCase and
// friends (render, compose, one transaction each) would take hours; the report only needs the
// rows. So this module writes the SAME rows those functions write (cases, case_events with one row
// per changed field, messages, outbox, inbound, raw_messages, participants, consultations,
// ratings), in the same order and shapes, but through prepared statements in large transactions.
// bench/report-verify.mjs checks the shapes against cases made by the real functions.
// Each case is a list of timed steps (open, follow-up, take, consult, answer, reply, close, rate,
// feedback…); steps of all cases run in time order through one heap, so row ids grow with time
// as they do on a live desk. Only the mail bytes (outbox.mime) are short stand-ins.
import { CLOSING, CONSULTANTS, DAY, DEPARTMENTS, HOUR, iso, MIN, mulberry32, newCase, POOLS, SUPERVISORS, YEAR_END } from './report-desk.mjs';
import { makeWriter } from './report-actions.mjs';

export { CONSULTANTS, writeBenchConfig } from './report-desk.mjs';
export { makeWriter } from './report-actions.mjs';
export { newCase } from './report-desk.mjs';

// ---------------------------------------------------------------------------------------------
// When mail arrives: working days, 08:00-18:00 Warsaw mostly, a tail in the evening and at weekends.

/** Warsaw's UTC offset in ms on a day of 2026 (CEST from 29 March to 25 October, 01:00 UTC). */
function warsawOffset(ms) {
  return ms >= Date.parse('2026-03-29T01:00:00Z') && ms < Date.parse('2026-10-25T01:00:00Z') ? 2 * HOUR : HOUR;
}

const HOLIDAYS = new Set(['01-01', '01-06', '04-05', '04-06', '05-01', '05-03', '06-04', '08-15', '11-01', '11-11', '12-24', '12-25', '12-26']);

/** `n` arrival instants (ms, sorted) spread over the year like a bank's mail. */
export function arrivals(n, rnd) {
  const days = [];
  let total = 0;
  for (let d = 0; d < 365; d++) {
    const local = new Date(Date.UTC(2026, 0, 1 + d));
    const wd = local.getUTCDay();
    const md = `${String(local.getUTCMonth() + 1).padStart(2, '0')}-${String(local.getUTCDate()).padStart(2, '0')}`;
    const w = HOLIDAYS.has(md) ? 0.25 : wd === 0 ? 0.2 : wd === 6 ? 0.3 : wd === 1 ? 1.25 : 1;
    days.push({ start: local.getTime(), w });
    total += w;
  }
  const out = new Float64Array(n);
  let k = 0;
  for (let d = 0; d < days.length; d++) {
    const share = d === days.length - 1 ? n - k : Math.round((n * days[d].w) / total);
    for (let j = 0; j < share && k < n; j++) {
      const r = rnd();
      // 85% in 08:00-18:00 local, 15% in 06:00-24:00.
      const hour = r < 0.85 ? 8 + rnd() * 10 : 6 + rnd() * 18;
      const localMs = days[d].start + hour * HOUR;
      out[k++] = localMs - warsawOffset(localMs);
    }
  }
  while (k < n) out[k++] = days[0].start + 9 * HOUR - HOUR;
  out.sort();
  return out;
}

// ---------------------------------------------------------------------------------------------
// A min-heap of timed steps.

class Steps {
  constructor() {
    this.t = [];
    this.f = [];
    this.seq = 0;
    this.s = [];
  }
  get size() {
    return this.t.length;
  }
  push(at, fn) {
    const { t, f, s } = this;
    let i = t.length;
    const q = this.seq++;
    t.push(at);
    f.push(fn);
    s.push(q);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (t[p] < at || (t[p] === at && s[p] < q)) break;
      t[i] = t[p];
      f[i] = f[p];
      s[i] = s[p];
      i = p;
    }
    t[i] = at;
    f[i] = fn;
    s[i] = q;
  }
  peek() {
    return this.t[0];
  }
  pop() {
    const { t, f, s } = this;
    const topF = f[0];
    const lastT = t.pop();
    const lastF = f.pop();
    const lastS = s.pop();
    const n = t.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && (t[c + 1] < t[c] || (t[c + 1] === t[c] && s[c + 1] < s[c]))) c++;
        if (lastT < t[c] || (lastT === t[c] && lastS < s[c])) break;
        t[i] = t[c];
        f[i] = f[c];
        s[i] = s[c];
        i = c;
      }
      t[i] = lastT;
      f[i] = lastF;
      s[i] = lastS;
    }
    return topF;
  }
}

// ---------------------------------------------------------------------------------------------
// The year: who does what when, for each case.

const SUBJECTS = [
  'My card was blocked',
  'Transfer not received',
  'Question about the loan schedule',
  'Cannot log in to the app',
  'Statement for March',
  'API key expired',
  'Change of address',
  'Card payment declined abroad',
  'Interest rate question',
  'Standing order failed',
];

function pick(rnd, weights) {
  let r = rnd() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i];
    if (r < 0) return i;
  }
  return weights.length - 1;
}

function between(rnd, a, b) {
  return a + rnd() * (b - a);
}

/**
 * Plans one case received at `received` and schedules its steps. Fractions (of all cases): 3%
 * still open at the year's end, ~15% consulted, ~70% closed on time, ~5% reopened by feedback,
 * ~20% rated.
 */
function planCase(w, steps, rnd, received, n) {
  const poolIndex = pick(
    rnd,
    POOLS.map((p) => p.weight),
  );
  const pool = POOLS[poolIndex];
  const seq = 1 + ((rnd() * 400_000) | 0);
  const c = newCase(pool.id, received, {
    address: `customer${seq}@example${seq % 50}.org`,
    name: `Customer ${seq}`,
    seq,
    subject: `${SUBJECTS[n % SUBJECTS.length]} (${n})`,
  });
  // Consultants of the pool (8 each: those whose first pool it is), now and then anyone.
  const own = CONSULTANTS.filter((_, i) => i % 5 === poolIndex);
  const consultant = rnd() < 0.9 ? own[(rnd() * own.length) | 0] : CONSULTANTS[(rnd() * 40) | 0];
  const D = pool.ms;
  const ingestDelay = 2000 + rnd() * 20_000;
  const at0 = received + ingestDelay;
  const stalled = rnd() < 0.025; // never finished (3% open at the end with the December tail)
  const onTime = rnd() < 0.86; // consulted and reopened cases are mostly late: ~70% of all closings on time
  const consulted = rnd() < 0.15;
  const closeAt = received + (onTime ? D * between(rnd, 0.15, 0.97) : D * between(rnd, 1.02, 2.5));
  const takeAt = received + (closeAt - received) * between(rnd, 0.03, 0.4);
  const status = rnd() < 0.8 ? 'solved' : 'closed';

  const s = []; // [ms, fn]
  s.push([at0, (at) => w.open(c, at)]);
  const extra = rnd() < 0.3 ? (rnd() < 0.3 ? 2 : 1) : 0;
  for (let i = 0; i < extra; i++) s.push([received + (closeAt - received) * between(rnd, 0.02, 0.9), (at) => w.customerWrites(c, at)]);

  let t = takeAt;
  s.push([t, (at) => w.take(c, consultant, at)]);
  let consultation = null;
  if (consulted) {
    const dept = DEPARTMENTS[rnd() < 0.6 ? 0 : 1];
    const k0 = t + between(rnd, 5, 60) * MIN;
    const r = rnd();
    const answerIn = r < 0.82 ? between(rnd, 0.1, 0.95) : r < 0.95 ? between(rnd, 1.05, 2) : null; // null: never
    s.push([k0, (at) => (consultation = w.consult(c, consultant, dept.id, at))]);
    const due = k0 + dept.ms;
    if (answerIn === null || answerIn > 1) s.push([due + between(rnd, 10, 70) * 1000, (at) => w.consultOverdue(c, consultation, at)]);
    if (answerIn !== null) {
      t = k0 + dept.ms * answerIn;
      s.push([t, (at) => w.deptAnswer(c, consultation, at)]);
    } else {
      t = due + between(rnd, 1, 8) * HOUR;
      if (!stalled) s.push([t, (at) => w.withdraw(c, consultant, consultation, at)]);
    }
  }
  let end = Math.max(closeAt, t + between(rnd, 10, 120) * MIN);
  if (stalled) {
    // Taken, perhaps answered once, then left: still in progress (or waiting for a department).
    if (!consulted && rnd() < 0.5) s.push([t + (end - t) * 0.5, (at) => w.reply(c, consultant, at)]);
    end = t;
  } else if (rnd() < 0.6) {
    s.push([end, (at) => w.reply(c, consultant, at, status)]);
  } else {
    const first = t + (end - t) * between(rnd, 0.2, 0.9);
    s.push([first, (at) => w.reply(c, consultant, at)]);
    if (rnd() < 0.6) s.push([end, (at) => w.reply(c, consultant, at, status)]);
    else s.push([end, (at) => w.statusOnly(c, consultant, at, status)]);
  }
  // The scheduler's overdue notice, when the deadline passes before the case is closed.
  if (c.deadlineMs < end || stalled)
    s.push([c.deadlineMs + between(rnd, 5, 65) * 1000, (at) => c.overdue_notified_at === null && !CLOSING.has(c.status) && w.caseOverdue(c, at)]);
  if (!stalled) {
    if (rnd() < 0.2) {
      const sr = rnd();
      const score = sr < 0.6 ? 'good' : sr < 0.85 ? 'okay' : 'bad';
      s.push([end + between(rnd, 5 * MIN, 3 * DAY), (at) => w.rate(c, score, rnd() < 0.2 ? 'Thanks!' : '', at)]);
    }
    if (rnd() < 0.05) {
      const fb = end + between(rnd, HOUR, 5 * DAY);
      s.push([fb, (at) => w.customerWrites(c, at)]);
      // A reopened case past its deadline gets its overdue notice then (if it had none).
      s.push([
        fb + between(rnd, 5, 65) * 1000,
        (at) => c.overdue_notified_at === null && c.deadlineMs < Date.parse(at) && !CLOSING.has(c.status) && w.caseOverdue(c, at),
      ]);
      const again = fb + between(rnd, 30 * MIN, DAY);
      if (rnd() < 0.4) {
        const other = own.find((x) => x !== consultant) ?? CONSULTANTS[0];
        s.push([again - 10 * MIN, (at) => w.assign(c, SUPERVISORS[poolIndex % 3], other, at)]);
        s.push([again, (at) => w.reply(c, other, at, status)]);
      } else {
        s.push([again, (at) => w.reply(c, consultant, at, status)]);
      }
    }
  }
  s.sort((a, b) => a[0] - b[0]);
  // The steps of one case run in order; the last one writes the case row's final state.
  let i = 0;
  const next = () => {
    if (i >= s.length || s[i][0] >= YEAR_END) {
      w.finish(c);
      return;
    }
    const [ms, fn] = s[i++];
    steps.push(ms, () => {
      fn(iso(ms));
      next();
    });
  };
  next();
}

/**
 * Fills the database: `cases` cases received over 2026, in transactions of `batch` steps. The
 * caller opened it with the app's openDatabase (all migrations applied); generation relaxes
 * durability and foreign-key checks and puts them back at the end.
 */
export function generate(sqlite, { cases = 1_000_000, seed = 2026, batch = 500_000, onProgress } = {}) {
  const rnd = mulberry32(seed);
  sqlite.pragma('foreign_keys = OFF');
  sqlite.pragma('journal_mode = MEMORY');
  sqlite.pragma('synchronous = OFF');
  sqlite.pragma('cache_size = -1000000');
  sqlite.pragma('temp_store = MEMORY');
  // Bulk load: the migrations' own indexes are dropped and built again, with the very SQL they
  // were made with, once the rows are in (a sort per index instead of a B-tree insert per row).
  const indexes = sqlite.prepare(`select name, sql from sqlite_master where type = 'index' and sql is not null`).all();
  for (const ix of indexes) sqlite.exec(`drop index "${ix.name}"`);
  const w = makeWriter(sqlite, seed);
  const when = arrivals(cases, rnd);
  const steps = new Steps();
  let n = 0;
  let done = 0;
  const run = sqlite.transaction((until) => {
    let k = 0;
    while (k < batch) {
      while (steps.size > 0 && steps.peek() <= (n < cases ? when[n] : Infinity)) {
        steps.pop()();
        k++;
      }
      if (n < cases) {
        planCase(w, steps, rnd, when[n], n + 1);
        n++;
        k++;
      } else if (steps.size === 0) break;
      if (k >= until) break;
    }
  });
  while (n < cases || steps.size > 0) {
    run(batch);
    if (onProgress && n - done >= cases / 10) {
      done = n;
      onProgress(n, w.counts);
    }
  }
  sqlite.transaction(() => w.close())();
  const t0 = Date.now();
  for (const ix of indexes) sqlite.exec(ix.sql);
  onProgress?.(n, w.counts, `indexes rebuilt in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  return w.counts;
}
