// Customer ratings through real mail (SPEC §5E). Why here, with Dovecot, the daemon and the SMTP
// sink: a rating is only as good as the round trip. The test takes the reply the sink received,
// reads its mailto: choices as a mail client does (To, subject and body from the URL), and puts the
// mail that client would send into the box. It must then be recorded on that reply for the
// consultant who wrote it, with the customer's comment, the last rating winning; and it must
// never act as customer mail (reopen, participant, auto-response, message on the case). Damaged,
// edited, forged or borrowed tokens are ignored and logged, and the customer's ordinary answer
// that quotes the rating line stays an ordinary customer message.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildMail } from '../support/imap';
import { startSmtpSink, type RecordedMail, type SmtpSink } from '../support/smtp-sink';
import { newMessageId } from '../ingest/helpers';
import { findRatingTokens, tokenSubaddress } from '../../src/tokens';
import {
  BOX,
  answerTo,
  arrival,
  caseState,
  customerCase,
  expectNothingMoreTo,
  inboundOutcome,
  sentTo,
  startDesk,
  type CustomerCase,
  type Desk,
} from './helpers';

let sink: SmtpSink;
let desk: Desk | undefined;

beforeAll(async () => {
  sink = await startSmtpSink();
  // Ratings on for the box's pool (general); the cards pool as the test config has it.
  desk = await startDesk(sink, {
    pools: [
      { id: 'general', name: 'General questions', response_deadline: '8h', languages: ['en', 'pl'], ratings: true },
      { id: 'cards', name: 'Payment cards', response_deadline: '4h', questionnaire: 'card-closing', languages: ['pl', 'en'] },
    ],
  });
});
afterAll(async () => {
  try {
    await desk?.stop();
  } finally {
    await sink?.stop();
  }
});

interface Choice {
  score: string;
  to: string;
  subject: string;
  body: string;
}

/** The mailto: choices of a mail's text part, read as a client reads them (RFC 6068: %-decoding only, '+' is a plus). */
function choicesOf(mail: RecordedMail): Choice[] {
  const text = (mail.parsed.text ?? '').replace(/\r\n/g, '\n');
  return [...text.matchAll(/^\s*(\w+) <mailto:([^>\s]+)>$/gm)].map((m) => {
    const [to, query = ''] = m[2]!.split('?');
    const fields: Record<string, string> = {};
    for (const kv of query.split('&')) {
      const [k, v = ''] = kv.split('=');
      fields[k!.toLowerCase()] = decodeURIComponent(v);
    }
    return { score: m[1]!, to: decodeURIComponent(to!), subject: fields.subject ?? '', body: fields.body ?? '' };
  });
}

interface Rated extends CustomerCase {
  reply: RecordedMail;
  choices: Record<string, Choice>;
}

/** A customer's case, answered by `who` (from the CLI), and that reply as the customer got it. */
async function answered(d: Desk, who: 'cody' | 'sam', extra: string[] = []): Promise<Rated> {
  const c = await customerCase(d, who);
  const text = `Dear Carla, your card works again (${c.id}).`;
  await d.json(['reply', c.id, '--as', who, '-m', text, ...extra]);
  const reply = await arrival(sink, (m) => m.envelope.to.includes(c.customer) && (m.parsed.text ?? '').includes(text), `the reply to ${c.customer}`);
  const choices = Object.fromEntries(choicesOf(reply).map((x) => [x.score, x]));
  expect(Object.keys(choices)).toEqual(['good', 'okay', 'bad']);
  return { ...c, reply, choices };
}

/** The mail the customer's client sends from a choice, with what they typed under the prefilled body. */
function clientMail(choice: Choice, opts: { from: string; comment?: string; body?: string; subject?: string; to?: string; messageId: string }): string {
  const body = (opts.body ?? choice.body).replace(/\r\n/g, '\n');
  return buildMail({
    from: opts.from,
    to: opts.to ?? choice.to,
    subject: opts.subject ?? choice.subject,
    text: body + (opts.comment ?? ''),
    messageId: opts.messageId,
  });
}

async function rate(d: Desk, choice: Choice, opts: Omit<Parameters<typeof clientMail>[1], 'messageId'>): Promise<string> {
  const messageId = newMessageId();
  await d.deliver(clientMail(choice, { ...opts, messageId }), opts.from);
  return messageId;
}

const ratingsOf = async (d: Desk, id: string) => (await d.json(['show', id])).ratings as any[];
const ratingEvents = (d: Desk, id: string) =>
  d.db.db.selectFrom('case_events').selectAll().where('case_id', '=', id).where('kind', '=', 'rating').orderBy('id').execute();
const ignoredLog = (d: Desk, messageId: string) =>
  d.daemon.waitForLog((l) => l.event === 'rating.ignored' && l.message_id === messageId, `rating.ignored for ${messageId}`);

describe('a rating sent from the customer’s mail client', () => {
  it('is recorded on the rated reply for the consultant who wrote it, with the comment; nothing else happens to the case (fails if a rating is taken for a customer message)', async () => {
    const d = desk!;
    const c = await answered(d, 'cody');
    expect(c.reply.parsed.subject).toContain(`[${c.id}]`);
    // cody's footer image makes an HTML part; its links are the same choices.
    expect(String(c.reply.parsed.html)).toContain(`>good</a>`);
    const before = await caseState(d, c.id);
    const sent = sentTo(sink, c.customer);
    const participants = await d.db.db.selectFrom('case_participants').select('address').where('case_id', '=', c.id).execute();

    const id = await rate(d, c.choices.good!, { from: `Carla Customer <${c.customer}>`, comment: 'Quick and clear, thank you!\n' });
    expect(await inboundOutcome(d, id)).toBe('rating');
    const ratings = await ratingsOf(d, c.id);
    expect(ratings).toEqual([
      expect.objectContaining({
        score: 'good',
        consultant: 'cody',
        customer: c.customer,
        comment: 'Quick and clear, thank you!',
        message_id: c.reply.messageId,
      }),
    ]);
    await d.daemon.waitForLog((l) => l.event === 'rating.recorded' && l.message_id === id, 'rating.recorded');

    expect(await caseState(d, c.id)).toEqual(before);
    expect(await d.db.db.selectFrom('case_participants').select('address').where('case_id', '=', c.id).execute()).toEqual(participants);
    const text = await d.cli(['show', c.id]);
    expect(text.stdout).toMatch(/Ratings:\n\s+good\s+the reply of .* by Cody Consultant\s+from carla\d+@customer\.test/);
    expect(text.stdout).toContain('"Quick and clear, thank you!"');
    await expectNothingMoreTo(d, c.customer, sent);
  });

  it("the customer's second rating of the same reply replaces the first; the history keeps both", async () => {
    const d = desk!;
    const c = await answered(d, 'cody');
    await rate(d, c.choices.bad!, { from: c.customer, comment: 'It took a week.\n' });
    expect(await ratingsOf(d, c.id)).toEqual([expect.objectContaining({ score: 'bad', comment: 'It took a week.' })]);
    await rate(d, c.choices.okay!, { from: c.customer, comment: 'Well, it does work now.\n' });
    expect(await ratingsOf(d, c.id)).toEqual([expect.objectContaining({ score: 'okay', comment: 'Well, it does work now.', consultant: 'cody' })]);
    expect((await ratingEvents(d, c.id)).map((e) => [e.from_value, e.to_value])).toEqual([
      [null, 'bad'],
      ['bad', 'okay'],
    ]);
  });

  it('is ignored and logged when the score word in the body was changed but the token is of another score (fails if the token or the word alone is believed)', async () => {
    const d = desk!;
    const c = await answered(d, 'cody');
    const good = c.choices.good!;
    expect(good.body).toMatch(/^Rating: good\r\n/);
    const id = await rate(d, good, { from: c.customer, body: good.body.replace('Rating: good', 'Rating: bad'), comment: 'Not happy.\n' });
    expect(await inboundOutcome(d, id)).toBe('rating_ignored');
    expect((await ignoredLog(d, id)).reason).toBe('score_mismatch');
    expect(await ratingsOf(d, c.id)).toEqual([]);
    expect((await ratingEvents(d, c.id)).map((e) => e.to_value)).toEqual(['ignored']);
  });

  it('is ignored and logged when its token was forged or altered (another score letter, another MAC)', async () => {
    const d = desk!;
    const c = await answered(d, 'cody');
    const good = c.choices.good!;
    const [token] = findRatingTokens(good.subject);
    // "good" -> "bad" in the token itself, and a MAC made up by the customer.
    const rescored = token!.replace(/\.g\.([a-z2-7]{21})$/, '.b.$1');
    const made = token!.replace(/[a-z2-7]{21}$/, 'a'.repeat(21));
    for (const forged of [rescored, made]) {
      const swap = (s: string) =>
        s
          .split(token!)
          .join(forged)
          .replace('Rating: good', forged === rescored ? 'Rating: bad' : 'Rating: good');
      const id = await rate(d, good, { from: c.customer, subject: swap(good.subject), body: swap(good.body) });
      expect(await inboundOutcome(d, id)).toBe('rating_ignored');
      expect((await ignoredLog(d, id)).reason).toBe('bad_signature');
    }
    expect(await ratingsOf(d, c.id)).toEqual([]);
  });

  it('from another address than the customer’s (a colleague she forwarded it to) is not recorded', async () => {
    const d = desk!;
    const c = await answered(d, 'cody');
    const colleague = c.customer.replace('carla', 'colleague');
    const id = await rate(d, c.choices.good!, { from: colleague });
    expect(await inboundOutcome(d, id)).toBe('rating_ignored');
    const log = await ignoredLog(d, id);
    expect(log.reason).toBe('wrong_sender');
    expect(log.detail).toContain(c.customer);
    expect(await ratingsOf(d, c.id)).toEqual([]);
    const participants = await d.db.db.selectFrom('case_participants').select('address').where('case_id', '=', c.id).execute();
    expect(participants.map((p) => p.address)).not.toContain(colleague);
  });

  it('never reopens a solved case and gets no auto-response (fails if the rating threads as customer mail)', async () => {
    const d = desk!;
    const c = await answered(d, 'cody', ['--status', 'solved']);
    expect((await caseState(d, c.id)).status).toBe('solved');
    const sent = sentTo(sink, c.customer);
    const before = await caseState(d, c.id);
    const id = await rate(d, c.choices.good!, { from: c.customer, comment: 'Thanks!\n' });
    expect(await inboundOutcome(d, id)).toBe('rating');
    expect(await caseState(d, c.id)).toEqual(before);
    const history = await d.db.db.selectFrom('case_events').select(['kind', 'to_value']).where('case_id', '=', c.id).orderBy('id').execute();
    const after = history.slice(history.findIndex((h) => h.kind === 'reply'));
    expect(after.map((h) => h.kind)).not.toContain('reopened');
    expect(after.map((h) => h.kind)).not.toContain('auto_response');
    expect(await d.db.db.selectFrom('messages').select('id').where('case_id', '=', c.id).where('is_feedback', '=', 1).execute()).toEqual([]);
    expect(await ratingsOf(d, c.id)).toEqual([expect.objectContaining({ score: 'good', comment: 'Thanks!' })]);
    await expectNothingMoreTo(d, c.customer, sent);
  });

  it("counts through the box's sub-address alone (the token in To, subject and body rewritten by the customer)", async () => {
    const d = desk!;
    const c = await answered(d, 'cody');
    const [token] = findRatingTokens(c.choices.bad!.subject);
    const id = await rate(d, c.choices.bad!, { from: c.customer, to: tokenSubaddress(BOX, token!)!, subject: 'My opinion', body: 'Too slow.\n' });
    expect(await inboundOutcome(d, id)).toBe('rating');
    expect(await ratingsOf(d, c.id)).toEqual([expect.objectContaining({ score: 'bad', comment: 'Too slow.' })]);
  });

  it('a customer answer quoting the reply (rating line and all) is an ordinary customer message, not a rating', async () => {
    const d = desk!;
    const c = await answered(d, 'cody');
    const id = newMessageId();
    await d.deliver(answerTo(c.reply, { from: c.customer, text: 'Thanks, but the PIN is blocked too.', messageId: id }), c.customer);
    expect(await inboundOutcome(d, id)).toBe('case');
    expect(await ratingsOf(d, c.id)).toEqual([]);
    const shown = await d.json(['show', c.id]);
    expect(shown.messages.filter((m: any) => m.kind === 'inbound').map((m: any) => m.message_id)).toContain(id);
  });

  it("rates a trainee's reply once approved, attributed to the trainee", async () => {
    const d = desk!;
    const c = await customerCase(d, 'sam');
    await d.json(['assign', c.id, 'tina', '--as', 'sam']);
    const text = `Dear Carla, we unblocked it (${c.id}).`;
    const held = await d.json(['reply', c.id, '--as', 'tina', '-m', text]);
    expect(held.state).toBe('held');
    await d.json(['approve', String(held.approvalId), '--as', 'sam']);
    const reply = await arrival(sink, (m) => m.envelope.to.includes(c.customer) && (m.parsed.text ?? '').includes(text), `tina's approved reply`);
    const good = choicesOf(reply).find((x) => x.score === 'good')!;
    await rate(d, good, { from: c.customer, comment: 'Nice.\n' });
    expect(await ratingsOf(d, c.id)).toEqual([expect.objectContaining({ score: 'good', consultant: 'tina', comment: 'Nice.' })]);
  });
});
