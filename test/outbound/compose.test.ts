// A message of one text part is written out without nodemailer's streams (src/outbound/compose.ts,
// singleTextPart): it must come out byte for byte as those streams build it, for every kind of
// text: plain ASCII (7bit), long lines, non-Latin scripts, '=' and tabs, blanks before line ends,
// bare CR and LF, and the text of every corpus message. What it does not take (attachments, an
// HTML alternative, no text, a text past one encoder slice or ending in blanks) goes to the streams.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { composeMessage, composerFor, singleTextPart, type ComposeInput } from '../../src/outbound/compose';
import { REPO_ROOT } from '../support/cli';
import { corpusFiles, splitMbox } from '../ingest/helpers';

const CORPUS = path.resolve(REPO_ROOT, '../shared/corpus');

function input(text: string, over: Partial<ComposeInput> = {}): ComposeInput {
  return {
    messageId: '<mw.0123456789abcdef0123456789abcdef@bank.test>',
    date: new Date('2026-12-01T10:00:00Z'),
    from: { name: 'Pomoc – Bank', address: 'pomoc@bank.test' },
    to: [{ name: 'Łukasz Żółć', address: 'lukasz@customer.test' }],
    cc: [],
    subject: 'Re: Zablokowana karta [ACME-000042]',
    text,
    inReplyTo: '<abc@customer.test>',
    references: ['<abc@customer.test>'],
    headers: { 'Auto-Submitted': 'auto-replied', 'X-Auto-Response-Suppress': 'All' },
    attachments: [],
    ...over,
  };
}

/** Both ways: the synchronous one (null when it declines) and nodemailer's streams. */
async function bothWays(i: ComposeInput): Promise<{ direct: Buffer | null; streamed: Buffer }> {
  return { direct: singleTextPart(composerFor(i).compile()), streamed: await composerFor(i).compile().build() };
}

const TEXTS: Record<string, string> = {
  ascii: 'Hello,\nthank you for your message. We will answer within 8 working hours.\n\nRegards\nThe help desk\n',
  'no final line end': 'Thanks.',
  'one long line': 'x'.repeat(300),
  'long words and spaces': `${'word '.repeat(60)}end\n${'a'.repeat(75)} b ${'c'.repeat(80)}\n`,
  polish: 'Dzień dobry,\notrzymaliśmy Pańską wiadomość. Odpowiemy w ciągu 8 godzin roboczych.\nZażółć gęślą jaźń.\n',
  russian: 'Здравствуйте!\nВаше обращение зарегистрировано под номером ACME-000042. Мы ответим в течение восьми рабочих часов.\n',
  mixed: `Ukraińsko: Доброго дня! ${'ї'.repeat(50)} = 100 %\tTab\n=3D literal =\n`,
  'blanks before line ends': 'line with trailing blanks   \nand a tab\t\nend\n',
  'bare CR and LF': 'one\rtwo\nthree\r\nfour\n\rfive\r',
  'ends in CR': 'text\r',
  'long lines of multibyte text': `${'€'.repeat(100)}\n${'ż'.repeat(77)}\n${'日本語のテキスト'.repeat(20)}`,
  'near one slice': `${'Zażółć gęślą jaźń, '.repeat(2300)}\nend`,
};

describe('a message of one text part', () => {
  for (const [name, text] of Object.entries(TEXTS)) {
    it(`is written out byte for byte as nodemailer's streams build it: ${name}`, async () => {
      const { direct, streamed } = await bothWays(input(text));
      expect(direct).not.toBeNull();
      expect(direct!.toString('latin1')).toBe(streamed.toString('latin1'));
    });
  }

  it('is written out as the streams build it for the text of every corpus message that fits one slice, and declines the rest (fails on any byte apart)', async () => {
    if (!fs.existsSync(CORPUS)) throw new Error(`the corpus is missing at ${CORPUS}`);
    const differ: string[] = [];
    let direct = 0;
    let declined = 0;
    for (const file of corpusFiles(CORPUS)) {
      for (const [i, bytes] of splitMbox(fs.readFileSync(file)).entries()) {
        const both = await bothWays(input(bytes.toString('utf8')));
        if (both.direct === null) declined++;
        else {
          direct++;
          if (!both.direct.equals(both.streamed)) differ.push(`${path.relative(CORPUS, file)}#${i + 1}`);
        }
      }
    }
    expect(differ).toEqual([]);
    expect(direct).toBeGreaterThan(1500);
    expect(declined).toBeGreaterThan(0);
  }, 120_000);

  it('declines what is not one text part of one slice, which then goes to the streams: no text, a text ending in blanks, a text past one slice, attachments', async () => {
    for (const i of [
      input(''),
      input('ends in a blank '),
      input('ends in a tab\t'),
      input('x'.repeat(64 * 1024 + 1)),
      input('with a file', { attachments: [{ filename: 'a.txt', content: Buffer.from('hello'), contentType: 'text/plain' }] }),
    ]) {
      const { direct, streamed } = await bothWays(i);
      expect(direct).toBeNull();
      // The streams' own output, but for the multipart boundary each build draws at random.
      const unbounded = (b: Buffer) => b.toString('latin1').replace(/_NmP-[\w-]+/g, 'BOUNDARY');
      expect(unbounded(await composeMessage(i))).toBe(unbounded(streamed));
    }
  });
});
