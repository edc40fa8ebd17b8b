// Customer ratings (SPEC §5E) without mail servers: what a rating token binds (a change to the
// score, the customer, the reply or the case breaks its MAC), how the rating line is written into
// a reply (RFC 6068 mailto: links that an ordinary client opens, in the text and the HTML part, in
// the frozen bytes of a trainee's held reply too), how a rating mail is told apart from a
// customer's answer that quotes the line, and that a later rating replaces the earlier one while
// the history keeps both. The rating mails themselves go through Dovecot in
// test/staff/ratings-mail.test.ts.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { requireConfig } from '../../src/config/load';
import type { Config } from '../../src/config/types';
import { writeTx, type Opened } from '../../src/db/connection';
import { replyToCase } from '../../src/cases/reply';
import { caseRatings, recordRating } from '../../src/cases/ratings';
import { findRatingMail, ratingComment, visibleScore } from '../../src/ingest/rating-mail';
import { mailtoUrl } from '../../src/outbound/rating-line';
import type { ParsedMessage } from '../../src/ingest/message';
import { findRatingTokens, issueRatingToken, ratingTokenFor, readRatingToken, tokenSubaddress, type RatingClaims } from '../../src/tokens';
import { writeTestConfig, type TestConfig } from '../support/config';
import { removeTempDir } from '../support/tmp';
import { insertCase, openTestDb } from './fixtures';

const SECRET = 'unit-test-secret-0123456789-abcdefghijklmnop';
const CUSTOMER = 'carla@customer.test';
const claims: RatingClaims = { caseId: 'ACME-000042', outboxId: 1234, score: 'good', issuedAt: new Date('2026-12-01T10:00:00Z') };

describe('rating tokens', () => {
  const token = issueRatingToken(SECRET, claims, CUSTOMER);

  it('reads back the case, the reply and the score, and verifies only for the customer it was issued to', () => {
    const read = readRatingToken(token)!;
    expect(read).toMatchObject({ caseId: 'ACME-000042', outboxId: 1234, score: 'good', issuedAt: claims.issuedAt });
    expect(ratingTokenFor(SECRET, read, CUSTOMER)).toBe(true);
    expect(ratingTokenFor(SECRET, read, 'Carla@Customer.TEST')).toBe(true); // addresses compare without case
    expect(ratingTokenFor(SECRET, read, 'colleague@customer.test')).toBe(false);
    expect(ratingTokenFor('another-secret-0123456789-abcdefghijklmnop', read, CUSTOMER)).toBe(false);
  });

  it('another score, reply or case written into the token breaks its MAC', () => {
    const parts = token.split('.'); // mwt1 g case ref issued score mac
    const variants = {
      score: [...parts.slice(0, 5), 'b', parts[6]].join('.'),
      reply: [...parts.slice(0, 3), (1235).toString(36), ...parts.slice(4)].join('.'),
      case: token.replace('acme-000042', 'acme-000043'),
      issued: [...parts.slice(0, 4), (Number.parseInt(parts[4]!, 36) + 1).toString(36), ...parts.slice(5)].join('.'),
    };
    for (const [what, forged] of Object.entries(variants)) {
      const read = readRatingToken(forged);
      expect(read, what).not.toBeNull();
      expect(ratingTokenFor(SECRET, read!, CUSTOMER), what).toBe(false);
    }
    expect(readRatingToken(variants.score)!.score).toBe('bad');
  });

  it('each score has its own token, and none of them is the others', () => {
    const okay = issueRatingToken(SECRET, { ...claims, score: 'okay' }, CUSTOMER);
    const bad = issueRatingToken(SECRET, { ...claims, score: 'bad' }, CUSTOMER);
    expect(new Set([token, okay, bad]).size).toBe(3);
    expect(readRatingToken(bad)!.mac).not.toBe(readRatingToken(token)!.mac);
  });

  it('is found in a subject, a sub-address and a body, once each, and fits a sub-address of a short box', () => {
    const sub = tokenSubaddress('help@bank.example', token)!;
    expect(sub).not.toBeNull();
    expect(findRatingTokens(sub)).toEqual([token]);
    expect(findRatingTokens(`Rating: good [ACME-000042] ${token.toUpperCase()}`)).toEqual([token]);
    expect(findRatingTokens(`Rating: good\nRef: ${token}.\n\nand again ${token}`)).toEqual([token]);
    expect(findRatingTokens(token.slice(0, -1))).toEqual([]);
    expect(readRatingToken('mwt1.r.acme-000042.0.abc.' + 'a'.repeat(21))).toBeNull();
  });

  it('makes mailto: links a client reads back as written (RFC 6068: %20 for a space, %2B for +, CRLF in the body)', () => {
    const url = mailtoUrl('help+x@bank.example', 'Rating: good [ACME-000042] a+b', 'Rating: good\nRef: x\n\n');
    expect(url).toMatch(/^mailto:help\+x@bank\.example\?subject=[^&\s+]+&body=[^&\s+]+$/);
    const [to, query] = url.slice('mailto:'.length).split('?');
    const fields = Object.fromEntries(query!.split('&').map((kv) => kv.split('=').map(decodeURIComponent) as [string, string]));
    expect(to).toBe('help+x@bank.example');
    expect(fields).toEqual({ subject: 'Rating: good [ACME-000042] a+b', body: 'Rating: good\r\nRef: x\r\n\r\n' });
  });
});

function parsed(over: Partial<ParsedMessage>): ParsedMessage {
  return {
    status: 'parsed',
    flags: [],
    problem: null,
    size: 100,
    fingerprint: 'f',
    bodySha256: 'b',
    headers: {},
    messageId: '<m@customer.test>',
    inReplyTo: null,
    references: [],
    from: { address: CUSTOMER },
    replyTo: null,
    to: [{ address: 'help@bank.example' }],
    cc: [],
    subject: '',
    date: null,
    contentType: 'text/plain',
    contentLanguage: null,
    languageScores: {},
    text: '',
    attachments: [],
    quotedMessageIds: [],
    reportActions: [],
    authResults: [],
    deliveredTo: [],
    ...over,
  };
}

describe('telling a rating mail from a customer answer', () => {
  const good = issueRatingToken(SECRET, claims, CUSTOMER);
  const okay = issueRatingToken(SECRET, { ...claims, score: 'okay' }, CUSTOMER);
  const bad = issueRatingToken(SECRET, { ...claims, score: 'bad' }, CUSTOMER);
  const line = `How did we do?\n  good <mailto:h@b?subject=${good}>\n  okay <mailto:h@b?subject=${okay}>\n  bad <mailto:h@b?subject=${bad}>\n`;

  it('a token in the subject or the sub-address makes a rating mail', () => {
    expect(findRatingMail(parsed({ subject: `Rating: good [ACME-000042] ${good}`, text: `Rating: good\nRef: ${good}\n` }))).toEqual([good]);
    expect(findRatingMail(parsed({ to: [{ address: `help+${good}@bank.example` }], text: 'Thanks!' }))).toEqual([good]);
    expect(findRatingMail(parsed({ subject: 'Rating', deliveredTo: [`help+${good}@bank.example`] }))).toEqual([good]);
  });

  it('a token in the body alone makes one only in a mail that answers nothing and names one token', () => {
    expect(findRatingMail(parsed({ subject: 'my rating', text: `Rating: bad\nRef: ${bad}\n\nToo slow.` }))).toEqual([bad]);
    // The customer answers the reply and their client quotes it, rating line and all: a customer message.
    const quoted = line
      .split('\n')
      .map((l) => `> ${l}`)
      .join('\n');
    expect(findRatingMail(parsed({ subject: 'Re: [ACME-000042] card', inReplyTo: '<r@bank.example>', text: `One more question.\n\n${quoted}` }))).toBeNull();
    expect(findRatingMail(parsed({ subject: 'Re: [ACME-000042] card', inReplyTo: '<r@bank.example>', text: `Ref: ${good}` }))).toBeNull();
    // A forward of the reply (no In-Reply-To) carries all three: a customer message too.
    expect(findRatingMail(parsed({ subject: 'Fwd: [ACME-000042] card', text: line }))).toBeNull();
    expect(findRatingMail(parsed({ subject: 'Hello', text: 'my card' }))).toBeNull();
  });

  it('a damaged token in the subject is a rating mail with no whole token; two different tokens are both returned', () => {
    expect(findRatingMail(parsed({ subject: `Rating: good ${good.slice(0, 30)}` }))).toEqual([]);
    expect(findRatingMail(parsed({ subject: `Rating: good ${good}`, text: `Rating: bad\nRef: ${bad}` }))).toEqual([good, bad]);
  });

  it('reads the score word the customer saw and the comment they added', () => {
    expect(visibleScore(`Rating: good\nRef: ${good}\n`)).toBe('good');
    expect(visibleScore(`rating:   BAD!\n`)).toBe('bad');
    expect(visibleScore('Thanks a lot')).toBeNull();
    const body = `Rating: good\nRef: ${good}\n\nQuick and clear, thank you.\nCarla\n\n-- \nCarla Customer\nSent from my phone`;
    expect(ratingComment(body)).toBe('Quick and clear, thank you.\nCarla');
    expect(ratingComment(`Rating: good\nRef: ${good}\n\n`)).toBe('');
  });
});

describe('the rating line in replies, and recording', () => {
  let cfg: TestConfig;
  let config: Config;
  let opened: Opened;

  beforeAll(async () => {
    cfg = await writeTestConfig();
    const loaded = requireConfig(cfg.configPath);
    config = { ...loaded, pools: loaded.pools.map((p) => ({ ...p, ratings: p.id === 'general' })) };
    opened = await openTestDb(cfg.dataDir);
  });
  afterAll(async () => {
    await opened?.close();
    if (cfg) await removeTempDir(cfg.dir);
  });

  const actor = (id: string) => config.consultants.find((c) => c.id === id)!;
  const outbox = (id: number) => opened.db.selectFrom('outbox').selectAll().where('id', '=', id).executeTakeFirstOrThrow();

  it('ends a reply in a rating pool with three mailto: choices whose tokens bind this outbox row and the customer, in text and HTML', async () => {
    const c = await insertCase(opened.db, { pool: 'general', customer: CUSTOMER });
    const r = await writeTx(opened.db, (tx) => replyToCase(tx, config, actor('cody'), { caseId: c.id, text: 'Your card works again.', attachments: [] }));
    const mail = await simpleParser((await outbox(r.outboxId)).mime);
    const text = mail.text!;
    expect(text.indexOf('Your card works again.')).toBeLessThan(text.indexOf('How did we do?'));
    const links = [...text.matchAll(/<(mailto:[^>\s]+)>/g)].map((m) => m[1]!);
    expect(links).toHaveLength(3);
    const scores = links.map((url) => {
      const query = url.split('?')[1]!;
      const subject = decodeURIComponent(/subject=([^&]+)/.exec(query)![1]!);
      const body = decodeURIComponent(/body=([^&]+)/.exec(query)![1]!);
      const [token] = findRatingTokens(subject);
      expect(findRatingTokens(body)).toEqual([token]);
      const read = readRatingToken(token!)!;
      expect(read).toMatchObject({ caseId: c.id, outboxId: r.outboxId });
      expect(ratingTokenFor(config.instance.secret, read, CUSTOMER)).toBe(true);
      expect(subject).toContain(`[${c.id}]`);
      expect(body).toMatch(new RegExp(`^Rating: ${read.score}\r\n`));
      expect(url.startsWith('mailto:alice@example.test?')).toBe(true); // no sub-addressing on this box
      return read.score;
    });
    expect(scores).toEqual(['good', 'okay', 'bad']);
    // cody's footer image makes an HTML part: there the choices are links showing the score word.
    const html = String(mail.html);
    const anchors = [...html.matchAll(/<a href="([^"]+)">([^<]+)<\/a>/g)].map((m) => [m[1]!.replace(/&amp;/g, '&').replace(/&#x3D;/g, '='), m[2]]);
    expect(anchors).toEqual(links.map((l, i) => [l, scores[i]]));
    // The case's thread shows what was sent.
    const row = await opened.db.selectFrom('messages').select('text').where('id', '=', r.messageRowId!).executeTakeFirstOrThrow();
    expect(row.text).toBe(text.replace(/\r\n/g, '\n'));
  });

  it('puts no rating line in replies of a pool without ratings', async () => {
    const c = await insertCase(opened.db, { pool: 'cards', customer: CUSTOMER });
    const r = await writeTx(opened.db, (tx) => replyToCase(tx, config, actor('cody'), { caseId: c.id, text: 'Done.', attachments: [] }));
    const mime = (await outbox(r.outboxId)).mime.toString('latin1');
    expect(mime).not.toContain('mwt1.g.');
    expect(mime).not.toContain('mailto:');
  });

  it("freezes the rating line into a trainee's held reply: the approval names those bytes", async () => {
    const c = await insertCase(opened.db, { pool: 'general', customer: CUSTOMER });
    const r = await writeTx(opened.db, (tx) => replyToCase(tx, config, actor('tina'), { caseId: c.id, text: 'We unblocked it.', attachments: [] }));
    expect(r.state).toBe('held');
    const held = await outbox(r.outboxId);
    expect(held.mime.toString('latin1')).toContain(`mwt1.g.${c.id.toLowerCase()}.${r.outboxId.toString(36)}.`);
    const approval = await opened.db.selectFrom('approvals').selectAll().where('id', '=', r.approvalId!).executeTakeFirstOrThrow();
    expect(approval.mime_sha256).toBe(crypto.createHash('sha256').update(held.mime).digest('hex'));
  });

  it("records a rating on the reply and its author; the customer's next rating of it replaces the first, the history keeps both", async () => {
    const c = await insertCase(opened.db, { pool: 'general', customer: CUSTOMER });
    const r = await writeTx(opened.db, (tx) => replyToCase(tx, config, actor('cody'), { caseId: c.id, text: 'Fixed.', attachments: [] }));
    const rate = (score: 'good' | 'bad', comment: string, at: string) =>
      writeTx(opened.db, (tx) =>
        recordRating(tx, config, CUSTOMER.toUpperCase(), {
          caseId: c.id,
          outboxId: r.outboxId,
          messageRowId: r.messageRowId,
          consultant: 'cody',
          score,
          comment,
          messageId: `<${score}@customer.test>`,
          rawSha256: null,
          at,
        }),
      );
    expect(await rate('bad', 'Too slow.', '2026-12-02T10:00:00.000Z')).toMatchObject({ replaced: null });
    expect(await rate('good', 'Actually it works now.', '2026-12-02T11:00:00.000Z')).toMatchObject({ replaced: 'bad' });
    expect(await caseRatings(opened.db, c.id)).toEqual([
      expect.objectContaining({
        score: 'good',
        outbox_id: r.outboxId,
        message_row_id: r.messageRowId,
        message_id: r.messageId,
        consultant: 'cody',
        customer: CUSTOMER,
        comment: 'Actually it works now.',
        at: '2026-12-02T11:00:00.000Z',
      }),
    ]);
    const events = await opened.db.selectFrom('case_events').selectAll().where('case_id', '=', c.id).where('kind', '=', 'rating').orderBy('id').execute();
    expect(events.map((e) => [e.from_value, e.to_value])).toEqual([
      [null, 'bad'],
      ['bad', 'good'],
    ]);
    expect(JSON.parse(events[1]!.data!).replaced).toEqual({ score: 'bad', comment: 'Too slow.', at: '2026-12-02T10:00:00.000Z' });
  });
});
