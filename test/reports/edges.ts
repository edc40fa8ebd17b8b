// A desk's week built at every edge of SPEC §6's definitions, through the real code paths (mail
// in by the ingest pipeline, replies, status changes, consultations and ratings by the domain
// actions), each step at an exact instant (Date is faked; nothing else is). The period is Monday
// 5 to Friday 9 October 2026 in Europe/Warsaw (UTC+2), so the period runs from
// 2026-10-04T22:00:00Z to 2026-10-09T22:00:00Z. Pools: `general` (8h wall clock) and `cards`
// (8 working hours, 09:00-17:00 Mon-Fri); the fraud department answers within 4h. What each case
// is for, and the figures it should give, is written beside it; report.test.ts asserts them.
import { vi } from 'vitest';
import type { Config, ConsultantConfig } from '../../src/config/types';
import { writeTx, type Opened } from '../../src/db/connection';
import { ingestMessage } from '../../src/ingest/pipeline';
import type { ParserPool } from '../../src/ingest/parse';
import { silentLogger } from '../../src/log';
import { changeStatusWithoutMail, replyToCase } from '../../src/cases/reply';
import { consultCase, withdrawConsultation } from '../../src/cases/consult';
import { recordRating } from '../../src/cases/ratings';
import type { RatingScore } from '../../src/tokens';
import { buildMail } from '../support/imap';

export const PERIOD = { from: '2026-10-05', to: '2026-10-09' };

export const EDGE_CONFIG = {
  instance: { timezone: 'Europe/Warsaw' },
  calendars: [{ id: 'office', timezone: 'Europe/Warsaw', hours: Object.fromEntries(['mon', 'tue', 'wed', 'thu', 'fri'].map((d) => [d, ['09:00-17:00']])) }],
  pools: [
    { id: 'general', name: 'General questions', response_deadline: '8h', languages: ['en', 'pl'], ratings: true },
    { id: 'cards', name: 'Payment cards', response_deadline: '8h', calendar: 'office', languages: ['en', 'pl'], ratings: true },
  ],
  departments: [{ id: 'fraud', name: 'Fraud Prevention', email: 'fraud@dept.test', deadline: '4h' }],
};

export interface Desk {
  config: Config;
  opened: Opened;
  parsers: ParserPool;
}

let queue = 0;

function at(iso: string): void {
  vi.setSystemTime(new Date(iso));
}

function consultant(config: Config, id: string): ConsultantConfig {
  return config.consultants.find((c) => c.id === id)!;
}

async function receive(desk: Desk, when: string, mail: { from: string; subject: string; box?: 'support' | 'cards' }): Promise<string> {
  at(when);
  const box = desk.config.mailboxes.find((m) => m.id === (mail.box ?? 'support'))!;
  const raw = buildMail({ from: mail.from, to: box.address, subject: mail.subject, text: 'Please help.\n', date: new Date(when) });
  const r = await ingestMessage(
    { getConfig: () => desk.config, db: desk.opened.db, log: silentLogger(), parsers: desk.parsers },
    { mailbox: box, source: { kind: 'lmtp', queueId: `edge-${++queue}` }, bytes: Buffer.from(raw), envelopeFrom: mail.from },
  );
  if (!r.caseId) throw new Error(`mail at ${when} made no case: ${r.outcome} ${r.detail}`);
  return r.caseId;
}

async function reply(desk: Desk, when: string, who: string, caseId: string, status?: 'solved' | 'in_progress'): Promise<number> {
  at(when);
  const r = await writeTx(desk.opened.db, (tx) =>
    replyToCase(tx, desk.config, consultant(desk.config, who), {
      caseId,
      text: 'Here is the answer.',
      attachments: [],
      force: true,
      ...(status ? { status } : {}),
    }),
  );
  return r.outboxId;
}

async function close(desk: Desk, when: string, who: string, caseId: string): Promise<void> {
  at(when);
  await writeTx(desk.opened.db, (tx) => changeStatusWithoutMail(tx, desk.config, consultant(desk.config, who), { caseId, status: 'solved', force: true }));
}

async function consult(desk: Desk, when: string, who: string, caseId: string): Promise<void> {
  at(when);
  await writeTx(desk.opened.db, (tx) =>
    consultCase(tx, desk.config, consultant(desk.config, who), { caseId, departments: ['fraud'], text: 'Is this fraud?', attachments: [] }),
  );
}

async function rate(desk: Desk, when: string, caseId: string, outboxId: number, who: string, customer: string, score: RatingScore): Promise<void> {
  at(when);
  await writeTx(desk.opened.db, (tx) =>
    recordRating(tx, desk.config, customer, {
      caseId,
      outboxId,
      messageRowId: null,
      consultant: who,
      score,
      comment: '',
      messageId: null,
      rawSha256: null,
      at: when,
    }),
  );
}

/** Builds the week; returns the case ids by letter. */
export async function buildEdgeWeek(desk: Desk): Promise<Record<string, string>> {
  vi.useFakeTimers({ toFake: ['Date'] });
  try {
    const c: Record<string, string> = {};
    const tag = (k: string) => `Re: [${c[k]}] thanks`;
    // H: closed before the period by cody; the customer's feedback comes inside it (Mon 07:00Z).
    c.H = await receive(desk, '2026-10-02T08:00:00.000Z', { from: 'h@customer.test', subject: 'Old matter' });
    await reply(desk, '2026-10-02T09:00:00.000Z', 'cody', c.H, 'solved');
    // I0: Sunday 23:59:59 local, one second before the period: outside.
    c.I0 = await receive(desk, '2026-10-04T21:59:59.000Z', { from: 'i0@customer.test', subject: 'Late Sunday' });
    await receive(desk, '2026-10-05T07:00:00.000Z', { from: 'h@customer.test', subject: tag('H') });
    // A: cody answers and solves exactly at the deadline (08:00Z + 8h): on time, 8h both ways.
    c.A = await receive(desk, '2026-10-05T08:00:00.000Z', { from: 'a@customer.test', subject: 'Case A' });
    const replyA = await reply(desk, '2026-10-05T16:00:00.000Z', 'cody', c.A, 'solved');
    // B: first response after 1h; solved one second after the deadline: late, not consulted.
    c.B = await receive(desk, '2026-10-05T09:00:00.000Z', { from: 'b@customer.test', subject: 'Case B' });
    await reply(desk, '2026-10-05T10:00:00.000Z', 'cody', c.B);
    await close(desk, '2026-10-05T17:00:01.000Z', 'cody', c.B);
    // C: sam consults at 12:00Z (due 16:00Z), the department answers one second late; sam
    // solves at 18:00Z, before the case's deadline (19:00Z): on time with consulting.
    c.C = await receive(desk, '2026-10-05T11:00:00.000Z', { from: 'c@customer.test', subject: 'Case C' });
    await consult(desk, '2026-10-05T12:00:00.000Z', 'sam', c.C);
    await receive(desk, '2026-10-05T16:00:01.000Z', { from: 'fraud@dept.test', subject: `[${c.C}] answer` });
    const replyC = await reply(desk, '2026-10-05T18:00:00.000Z', 'sam', c.C, 'solved');
    // D: answered exactly at the consultation's deadline (in time); solved late by sam.
    c.D = await receive(desk, '2026-10-06T08:00:00.000Z', { from: 'd@customer.test', subject: 'Case D' });
    await consult(desk, '2026-10-06T09:00:00.000Z', 'sam', c.D);
    await receive(desk, '2026-10-06T13:00:00.000Z', { from: 'fraud@dept.test', subject: `[${c.D}] answer` });
    const replyD = await reply(desk, '2026-10-06T20:00:00.000Z', 'sam', c.D, 'solved');
    // E: cody's consultation is never answered (due 14:30Z): late; the case stays open.
    c.E = await receive(desk, '2026-10-06T10:00:00.000Z', { from: 'e@customer.test', subject: 'Case E' });
    await consult(desk, '2026-10-06T10:30:00.000Z', 'cody', c.E);
    // F: a consultation withdrawn before its deadline is not judged; the case was consulted.
    c.F = await receive(desk, '2026-10-06T12:00:00.000Z', { from: 'f@customer.test', subject: 'Case F' });
    await consult(desk, '2026-10-06T12:30:00.000Z', 'cody', c.F);
    at('2026-10-06T13:00:00.000Z');
    await writeTx(desk.opened.db, (tx) => withdrawConsultation(tx, desk.config, consultant(desk.config, 'cody'), { caseId: c.F!, dept: 'fraud' }));
    await reply(desk, '2026-10-06T14:00:00.000Z', 'cody', c.F, 'solved');
    // G: cody solves on time, the customer writes again (feedback), sam solves it next day:
    // the case counts once, for sam, late.
    c.G = await receive(desk, '2026-10-07T08:00:00.000Z', { from: 'g@customer.test', subject: 'Case G' });
    const replyG = await reply(desk, '2026-10-07T09:00:00.000Z', 'cody', c.G, 'solved');
    await receive(desk, '2026-10-07T10:00:00.000Z', { from: 'g@customer.test', subject: tag('G') });
    await reply(desk, '2026-10-08T08:00:00.000Z', 'sam', c.G, 'solved');
    // K: cards, 8 working hours from Friday 15:00 local is Monday 15:00 local (13:00Z); solved
    // Friday 23:30 local, after 8 wall-clock hours but on time in working hours.
    c.K = await receive(desk, '2026-10-09T13:00:00.000Z', { from: 'k@customer.test', subject: 'Case K', box: 'cards' });
    await reply(desk, '2026-10-09T21:30:00.000Z', 'cody', c.K, 'solved');
    // J: solved at Saturday 00:00 local: outside (its first response too).
    c.J = await receive(desk, '2026-10-09T14:00:00.000Z', { from: 'j@customer.test', subject: 'Case J' });
    await reply(desk, '2026-10-09T22:00:00.000Z', 'cody', c.J, 'solved');
    // I1 at Friday 23:59:59 local is inside; I2 at Saturday 00:00 local is outside.
    c.I1 = await receive(desk, '2026-10-09T21:59:59.000Z', { from: 'i1@customer.test', subject: 'Late Friday' });
    c.I2 = await receive(desk, '2026-10-09T22:00:00.000Z', { from: 'i2@customer.test', subject: 'Saturday' });
    // Ratings: three inside the period, one on Saturday (outside).
    await rate(desk, '2026-10-06T09:00:00.000Z', c.A, replyA, 'cody', 'a@customer.test', 'good');
    await rate(desk, '2026-10-07T09:30:00.000Z', c.G, replyG, 'cody', 'g@customer.test', 'bad');
    await rate(desk, '2026-10-07T11:00:00.000Z', c.D, replyD, 'sam', 'd@customer.test', 'okay');
    await rate(desk, '2026-10-10T09:00:00.000Z', c.C, replyC, 'sam', 'c@customer.test', 'good');
    return c;
  } finally {
    vi.useRealTimers();
  }
}
