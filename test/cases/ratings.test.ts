// Customer ratings (SPEC §5E) without mail servers: what a rating token binds (a change to the
// score, the customer, the reply or the case breaks its MAC), how the rating line is written into
// a reply (RFC 6068 mailto: links that an ordinary client opens, in the text and the HTML part, in
// the frozen bytes of a trainee's held reply too), how a rating mail is told apart from a
// customer's answer that quotes the line, and that a later rating replaces the earlier one while
// the history keeps both. The rating mails themselves go through Dovecot in
// test/staff/ratings-mail.test.ts.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simpleParser } from 'mailparser';
import { requireConfig } from '../../src/config/load';
import { checkTemplates } from '../../src/config/templates';
import type { Config } from '../../src/config/types';
import { writeTx, type Opened } from '../../src/db/connection';
import { replyToCase } from '../../src/cases/reply';
import { caseRatings, recordRating } from '../../src/cases/ratings';
import { checkRatingMail, findRatingMail, ratingComment, visibleScore } from '../../src/ingest/rating-mail';
import { mailtoUrl } from '../../src/outbound/rating-line';
import type { ParsedMessage } from '../../src/ingest/message';
import { findRatingTokens, issueRatingToken, ratingTokenFor, readRatingToken, tokenSubaddress, type RatingClaims } from '../../src/tokens';
import { writeTestConfig, type TestConfig } from '../support/config';
import { REPO_ROOT } from '../support/cli';
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
  /** The choices' tokens of a reply, by score. */
  async function tokensOf(outboxId: number): Promise<Record<string, string>> {
    const mime = (await outbox(outboxId)).mime;
    const text = (await simpleParser(mime)).text!;
    const subjects = [...text.matchAll(/subject=([^&]+)/g)].map((m) => findRatingTokens(decodeURIComponent(m[1]!))[0]!);
    return Object.fromEntries(subjects.map((t) => [readRatingToken(t)!.score, t]));
  }

  it('links to the sub-address box+token@ when the box has `subaddress: true`, and takes an overriding rating template', async () => {
    const templates = path.join(cfg.dir, 'templates');
    fs.cpSync(path.join(REPO_ROOT, 'templates'), templates, { recursive: true });
    fs.mkdirSync(path.join(templates, 'pools', 'general'), { recursive: true });
    fs.writeFileSync(
      path.join(templates, 'pools', 'general', 'rating.hbs'),
      'Subject: Ocena {{choice.label}}\n\nJak nam poszło?\n{{#each rating.choices}}* {{{link}}}\n{{/each}}',
    );
    const own: Config = {
      ...config,
      instance: { ...config.instance, templates_dir: templates },
      mailboxes: config.mailboxes.map((m) => ({ ...m, subaddress: m.id === 'support' })),
    };
    const c = await insertCase(opened.db, { pool: 'general', customer: CUSTOMER });
    const r = await writeTx(opened.db, (tx) => replyToCase(tx, own, actor('sam'), { caseId: c.id, text: 'Sorted.', attachments: [] }));
    const text = (await simpleParser((await outbox(r.outboxId)).mime)).text!;
    expect(text).toContain('Jak nam poszło?');
    const tokens = await tokensOf(r.outboxId);
    expect(text).toContain(`* good <mailto:alice+${tokens.good}@example.test?subject=Ocena%20good%20${tokens.good}&body=`);
  });

  it('config check asks for rating.hbs only when a pool has ratings (an older templates_dir stays valid)', () => {
    const old = path.join(cfg.dir, 'old-templates');
    fs.cpSync(path.join(REPO_ROOT, 'templates'), old, { recursive: true });
    fs.rmSync(path.join(old, 'rating.hbs'));
    const withDir = (c: Config): Config => ({ ...c, instance: { ...c.instance, templates_dir: old } });
    const off: Config = { ...config, pools: config.pools.map((p) => ({ ...p, ratings: false })) };
    expect(checkTemplates(withDir(off))).toEqual([]);
    expect(checkTemplates(withDir(config))).toEqual([{ path: 'instance.templates_dir', message: `lacks the template rating.hbs (${old})` }]);
  });

  describe('checking a rating mail', () => {
    const now = new Date();
    const check = (tokens: string[], over: Partial<ParsedMessage> = {}, at = now, cls: any = { kind: 'normal' }) =>
      writeTx(opened.db, (tx) => checkRatingMail(tx, { config, parsed: parsed(over), cls, tokens, now: at }));
    const body = (t: string, score = readRatingToken(t)!.score) => `Rating: ${score}\nRef: ${t}\n\nThanks`;

    it("accepts the customer's own choice and gives the comment; refuses each broken promise with its reason", async () => {
      const c = await insertCase(opened.db, { pool: 'general', customer: CUSTOMER });
      const r = await writeTx(opened.db, (tx) => replyToCase(tx, config, actor('cody'), { caseId: c.id, text: 'Fixed.', attachments: [] }));
      const t = await tokensOf(r.outboxId);
      expect(await check([t.good!], { text: body(t.good!) })).toMatchObject({ ok: true, customer: CUSTOMER, comment: 'Thanks', reply: { consultant: 'cody' } });

      const reasons = async (...args: Parameters<typeof check>) => {
        const v = await check(...args);
        return v.ok ? 'ok' : v.reason;
      };
      expect(await reasons([], { subject: 'Rating: good mwt1.g.broken' })).toBe('malformed');
      expect(await reasons([t.good!, t.bad!])).toBe('conflicting_tokens');
      expect(await reasons([t.good!], { from: { address: 'someone@else.test' } })).toBe('wrong_sender');
      expect(await reasons([t.good!], { text: body(t.good!, 'excellent') })).toBe('score_mismatch');
      expect(await reasons([t.good!], { subject: `Rating: bad ${t.good!}` })).toBe('score_mismatch');
      expect(await reasons([t.good!], {}, new Date(now.getTime() + config.instance.rating_ttl + 3600_000))).toBe('expired');
      expect(await reasons([t.good!], {}, now, { kind: 'auto_reply', reason: 'Auto-Submitted' })).toBe('automatic_reply');
      // A token that verifies but names a case the reply is not on, or a reply that does not exist.
      const other = await insertCase(opened.db, { pool: 'general', customer: CUSTOMER });
      const moved = issueRatingToken(config.instance.secret, { caseId: other.id, outboxId: r.outboxId, score: 'good', issuedAt: now }, CUSTOMER);
      expect(await reasons([moved])).toBe('unknown_reply');
      const none = issueRatingToken(config.instance.secret, { caseId: c.id, outboxId: 999_999, score: 'good', issuedAt: now }, CUSTOMER);
      expect(await reasons([none])).toBe('unknown_reply');
      // Once the token's case was merged into the reply's case (the reply moved with it), the rating counts.
      await opened.db.updateTable('cases').set({ merged_into: c.id }).where('id', '=', other.id).execute();
      expect(await reasons([moved])).toBe('ok');
    });

    it("refuses a rating of a trainee's reply that was never sent (held)", async () => {
      const c = await insertCase(opened.db, { pool: 'general', customer: CUSTOMER });
      const r = await writeTx(opened.db, (tx) => replyToCase(tx, config, actor('tina'), { caseId: c.id, text: 'Draft.', attachments: [] }));
      const t = await tokensOf(r.outboxId);
      expect(await check([t.okay!])).toMatchObject({ ok: false, reason: 'not_sent' });
    });
  });
});
