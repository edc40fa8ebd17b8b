// Language detection of new cases. In-process: realistic short customer mails in the seeds'
// languages, scored as the parser thread scores them and chosen within the pools they meet in.
// Russian and Ukrainian share most of their alphabet and vocabulary, Dutch and German much of
// theirs, and short lines give a detector little to go on. End to end: the daemon, whose parser
// threads score and whose accept side chooses, so the scores are seen crossing the thread.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caseLanguage } from '../../src/cases/case-language';
import { languageScores } from '../../src/ingest/language-scores';
import { detectedLanguages, readLanguageTable, type EldTable } from '../../src/ingest/language-table';
import { parseMessageFile } from '../../src/ingest/parse-core';
import { REPO_ROOT, runCli, startDaemon, type Daemon } from '../support/cli';
import { rewriteTestConfig, writeTestConfig, type TestConfig } from '../support/config';
import { buildMail } from '../support/imap';
import { freePort } from '../support/ports';
import { makeTempDir, removeTempDir } from '../support/tmp';
import { bound } from '../support/wait';
import { bundledParserThread, newMessageId, openDb } from './helpers';

const MAILS: Record<string, string[]> = {
  ru: [
    'Здравствуйте! Моя карта заблокирована после трёх попыток ввода ПИН-кода. Что мне делать?',
    'Добрый день, не могу войти в личный кабинет, пишет ошибку. Помогите, пожалуйста.',
    'Спасибо, всё работает.',
    'Оплата через Apple Pay не проходит, пишет "Declined".',
    'Добрый день! Прошу закрыть мой счёт.\n\nС уважением,\nИван Петров\n+7 912 345 67 89',
  ],
  uk: [
    'Доброго дня! Моя картка заблокована після трьох спроб введення ПІН-коду. Що мені робити?',
    'Добрий день, не можу увійти в особистий кабінет, пише помилку. Допоможіть, будь ласка.',
    'Дякую, все працює.',
    // No і, ї, є or ґ: only the words tell it from Russian.
    'Оплата через Apple Pay не проходить, пише "Declined".',
    'Добрий день! Прошу закрити мій рахунок.\n\nЗ повагою,\nІван Петренко\n+380 67 123 45 67',
  ],
  nl: [
    'Goedemiddag, mijn kaart is geblokkeerd na drie keer een verkeerde pincode. Wat moet ik doen?',
    'Hallo, ik kan niet inloggen op mijn account, ik krijg steeds een foutmelding. Kunt u mij helpen?',
    'Bedankt, het werkt weer.',
    'Waar is mijn bestelling #A1234?',
    'Mijn kaart werkt niet',
  ],
  de: [
    'Guten Tag, meine Karte wurde nach dreimaliger falscher PIN-Eingabe gesperrt. Was soll ich tun?',
    'Hallo, ich kann mich nicht in mein Konto einloggen, es kommt immer eine Fehlermeldung. Können Sie mir helfen?',
    'Danke, es funktioniert wieder.',
    'Wo ist meine Bestellung #A1234?',
    'Meine Karte geht nicht',
  ],
  en: [
    'Hello, my card was blocked after three wrong PIN attempts. What should I do?',
    'Hi, I cannot log in to my account, it keeps showing an error. Could you help me?',
    'Thanks, it works again.',
    'Can I change my phone number?',
    'My card does not work',
  ],
  pl: [
    'Dzień dobry, moja karta została zablokowana po trzech błędnych próbach wpisania PIN-u. Co mam zrobić?',
    'Witam, nie mogę zalogować się do konta, cały czas wyskakuje błąd. Czy mogą Państwo pomóc?',
    'Dziękuję, już działa.',
    'Czy mogę zmienić numer telefonu?',
    'Karta nie działa',
  ],
};

const detect = async (text: string, pool: string[], contentLanguage: string | null = null, subject = '') =>
  caseLanguage({ contentLanguage, languageScores: await languageScores(subject, text) }, pool);

/** Every mail of the pool's languages, detected within that pool, in both orders of preference. */
async function misses(pool: string[]): Promise<string[]> {
  const wrong: string[] = [];
  for (const order of [pool, [...pool].reverse()]) {
    for (const lang of pool) {
      for (const text of MAILS[lang]!) {
        const got = await detect(text, order);
        if (got !== lang) wrong.push(`[${order.join(', ')}] ${lang} read as ${got}: ${text.slice(0, 40)}`);
      }
    }
  }
  return wrong;
}

describe('language of a new case', () => {
  it('tells Russian from Ukrainian in a pool [ru, uk] (fails on the seeds’ pools mixing them up)', async () => {
    expect(await misses(['ru', 'uk'])).toEqual([]);
  });
  it('tells Dutch from German in a pool [nl, de]', async () => {
    expect(await misses(['nl', 'de'])).toEqual([]);
  });
  it('tells English from Polish in a pool [en, pl]', async () => {
    expect(await misses(['en', 'pl'])).toEqual([]);
  });
  it('tells all six apart in a pool of all six', async () => {
    expect(await misses(['ru', 'uk', 'nl', 'de', 'en', 'pl'])).toEqual([]);
  });

  it('honours Content-Language when it names a pool language, and only then', async () => {
    expect(await detect(MAILS.pl![0]!, ['pl', 'en'], 'en')).toBe('en');
    expect(await detect(MAILS.pl![0]!, ['en', 'pl'], 'de')).toBe('pl');
    expect(await detect(MAILS.uk![0]!, ['ru', 'uk'], 'ru')).toBe('ru');
  });

  it('chooses only among the pool languages, falling back to the first (fails on a language outside the pool)', async () => {
    expect(await detect(MAILS.de![0]!, ['pl', 'en'])).toMatch(/^(pl|en)$/);
    expect(await detect(MAILS.ru![0]!, ['nl', 'de'])).toMatch(/^(nl|de)$/);
    expect(await detect('', ['pl', 'en'])).toBe('pl');
    expect(await detect('12345 https://shop.example/a/b', ['uk', 'ru'])).toBe('uk');
    expect(await detect(MAILS.en![0]!, ['en'])).toBe('en');
    expect(await detect(MAILS.en![0]!, [], 'fr')).toBe('fr');
    // A pool of languages the detector does not know: the pool's first, never what it found.
    expect(await detect(MAILS.pl![0]!, ['xx', 'yy'])).toBe('xx');
    // Scores that are not plain positive numbers count as no trace at all.
    expect(caseLanguage({ contentLanguage: null, languageScores: { pl: Number.NaN, en: -1 } }, ['de', 'pl', 'en'])).toBe('de');
    expect(caseLanguage({ contentLanguage: null, languageScores: {} }, ['constructor', 'toString'])).toBe('constructor');
  });

  it('does not count quoted lines: a Ukrainian reply quoting our long Russian answer stays Ukrainian', async () => {
    const quoted = MAILS.ru!.map((l) => `> ${l}`).join('\n');
    const reply = `Дякую, все працює.\n\nНа ваш лист від 3 березня:\n${quoted}\n${quoted}`;
    expect(await detect(reply, ['ru', 'uk'])).toBe('uk');
    expect(await detect(`${MAILS.nl![2]}\n\n${MAILS.de!.map((l) => `>${l}`).join('\n')}`, ['de', 'nl'])).toBe('nl');
  });

  it('reads the subject too, when the body says little', async () => {
    expect(await detect('', ['en', 'pl'], null, 'Zablokowana karta, proszę o pomoc')).toBe('pl');
  });
});

describe('language scores from the parser', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('mw-lang-');
  });
  afterAll(async () => {
    await removeTempDir(dir);
  });

  it('come with the parsed message as plain data that survives the thread crossing (fails on scores missing or not cloneable)', async () => {
    const file = path.join(dir, 'uk.eml');
    fs.writeFileSync(file, buildMail({ from: 'olena@customer.test', to: 'desk@example.test', subject: 'Картка', text: MAILS.uk![1]! }));
    const parsed = await parseMessageFile({ file, dataDir: dir, limits: { maxMessageSize: 25 * 1024 * 1024, maxParts: 500, maxHeaderBytes: 1024 * 1024 } });
    const crossed = structuredClone(parsed);
    expect(crossed.languageScores).toEqual(parsed.languageScores);
    expect(Object.keys(crossed.languageScores)).toEqual(expect.arrayContaining(['uk', 'ru']));
    expect(caseLanguage(crossed, ['ru', 'uk'])).toBe('uk');
  });

  it('are the same from the daemon’s bundled parser thread, whose table is eld’s read as JSON, as from eld itself (fails if the two tables score apart)', async () => {
    const thread = await bundledParserThread();
    const limits = { maxMessageSize: 25 * 1024 * 1024, maxParts: 500, maxHeaderBytes: 1024 * 1024 };
    try {
      let compared = 0;
      for (const [lang, texts] of Object.entries(MAILS)) {
        for (const [i, text] of texts.entries()) {
          const file = path.join(dir, `${lang}-${i}.eml`);
          const bytes = buildMail({ from: 'customer@customer.test', to: 'desk@example.test', subject: `Question ${i}`, text });
          fs.writeFileSync(file, bytes);
          const bundled = await thread.parse({ file, bytes: new Uint8Array(Buffer.from(bytes)), dataDir: dir, limits });
          expect(Object.keys(bundled.languageScores)).toContain(lang);
          expect(bundled.languageScores).toEqual(await languageScores(`Question ${i}`, bundled.text));
          compared++;
        }
      }
      expect(compared).toBe(Object.values(MAILS).flat().length);
    } finally {
      await thread.close();
    }
  });

  it('from a thread given its pools’ languages are eld’s own scores of those languages, and no others (fails on a table that drops or mixes up entries)', async () => {
    const thread = await bundledParserThread(['en', 'pl', 'uk']);
    const limits = { maxMessageSize: 25 * 1024 * 1024, maxParts: 500, maxHeaderBytes: 1024 * 1024 };
    try {
      let scored = 0;
      for (const [lang, texts] of Object.entries(MAILS)) {
        for (const [i, text] of texts.entries()) {
          const file = path.join(dir, `sub-${lang}-${i}.eml`);
          const bytes = buildMail({ from: 'customer@customer.test', to: 'desk@example.test', subject: `Question ${i}`, text });
          fs.writeFileSync(file, bytes);
          const { languageScores: got, text: body } = await thread.parse({ file, bytes: new Uint8Array(Buffer.from(bytes)), dataDir: dir, limits });
          const all = await languageScores(`Question ${i}`, body);
          const expected = Object.fromEntries(Object.entries(all).filter(([l]) => ['en', 'pl', 'uk'].includes(l)));
          expect(got).toEqual(expected);
          scored += Object.keys(got).length;
        }
      }
      // Mails in en, pl and uk were scored in their own language at least.
      expect(scored).toBeGreaterThanOrEqual(15);
    } finally {
      await thread.close();
    }
  });
});

describe('the language table written for the parser thread', () => {
  const written = new URL('eld-extrasmall/', pathToFileURL(path.join(REPO_ROOT, 'dist', 'bundle', '/')));
  let eldTable: EldTable;
  beforeAll(async () => {
    eldTable = ((await import(pathToFileURL(path.join(REPO_ROOT, 'node_modules/eld/src/ngrams/extrasmall.js')).href)) as { ngramsData: EldTable }).ngramsData;
  });

  it('read whole is eld’s table, entry for entry (fails on an entry lost or changed by the split)', () => {
    const read = readLanguageTable(written, null);
    expect(read.type).toBe(eldTable.type);
    expect(read.languages).toEqual(eldTable.languages);
    expect(Object.keys(read.ngrams).length).toBe(Object.keys(eldTable.ngrams).length);
    for (const [ngram, scores] of Object.entries(eldTable.ngrams)) expect(read.ngrams[ngram], ngram).toEqual(scores);
  });

  it('read for some languages holds their entries under eld’s indices and nothing else; an unknown language adds nothing', () => {
    const read = readLanguageTable(written, ['pl', 'xx', 'en']);
    const kept = new Set(
      Object.entries(eldTable.languages)
        .filter(([, code]) => code === 'en' || code === 'pl')
        .map(([i]) => i),
    );
    expect(kept.size).toBe(2);
    let entries = 0;
    for (const [ngram, scores] of Object.entries(eldTable.ngrams)) {
      const want = Object.fromEntries(Object.entries(scores).filter(([i]) => kept.has(i)));
      if (Object.keys(want).length === 0) expect(read.ngrams[ngram], ngram).toBeUndefined();
      else expect(read.ngrams[ngram], ngram).toEqual(want);
      entries += Object.keys(want).length;
    }
    expect(Object.keys(read.ngrams).length).toBeLessThan(Object.keys(eldTable.ngrams).length);
    expect(entries).toBeGreaterThan(1000);
    expect(readLanguageTable(written, []).ngrams).toEqual({});
  });

  it('is asked for the languages of every pool, each once', () => {
    const pools = [{ languages: ['uk', 'ru'] }, { languages: ['en'] }, { languages: ['ru', 'en', 'pl'] }, {}] as Parameters<
      typeof detectedLanguages
    >[0]['pools'];
    expect(detectedLanguages({ pools })).toEqual(['en', 'pl', 'ru', 'uk']);
  });
});

describe('language of cases the daemon opens', () => {
  let cfg: TestConfig;
  let daemon: Daemon;
  let port: number;
  let db: Awaited<ReturnType<typeof openDb>>;

  beforeAll(async () => {
    port = await freePort();
    cfg = await writeTestConfig({
      listener: { port, protocol: 'lmtp' },
      overrides: {
        pools: [
          { id: 'general', name: 'General questions', response_deadline: '8h', languages: ['ru', 'uk'] },
          { id: 'cards', name: 'Payment cards', response_deadline: '4h', questionnaire: 'card-closing', languages: ['de', 'nl'] },
        ],
        snippets: [{ code: 'hello', title: 'Opening', text: { ru: 'Здравствуйте,', uk: 'Доброго дня,', de: 'Guten Tag,', nl: 'Goedendag,' } }],
      },
    });
    daemon = await startDaemon(cfg.configPath);
    db = await openDb(cfg);
  });
  afterAll(async () => {
    const code = await daemon?.stop();
    await db?.close();
    expect(code).toBe(0);
  });

  const deliver = async (to: string, text: string, headers: Record<string, string> = {}) => {
    const messageId = newMessageId();
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, lmtp: true, ignoreTLS: true, secure: false } as any);
    await transport.sendMail({
      envelope: { from: 'customer@customer.test', to: [to] },
      raw: buildMail({ from: 'customer@customer.test', to, subject: 'Re: ваш лист / uw bericht', text, messageId, headers }),
    });
    // The 250 promised the case is committed.
    const row = await db.db.selectFrom('inbound').select('case_id').where('message_id', '=', messageId).executeTakeFirstOrThrow();
    const c = await db.db.selectFrom('cases').select(['id', 'language', 'flags']).where('id', '=', row.case_id!).executeTakeFirstOrThrow();
    return c;
  };

  it('gives each case the pool language its text is in, chosen from the parser thread’s scores (fails on the pool’s first language)', async () => {
    const uk = await deliver('alice@example.test', MAILS.uk![3]!);
    expect(uk).toMatchObject({ language: 'uk', flags: '[]' });
    expect((await deliver('bob@example.test', MAILS.nl![0]!)).language).toBe('nl');
    expect((await deliver('alice@example.test', MAILS.uk![0]!, { 'Content-Language': 'ru' })).language).toBe('ru');
    // reprocess parses through the same kind of pool, detector included, and leaves the language be.
    const again = await runCli(['reprocess', uk.id, '--json', '--config', cfg.configPath]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual([expect.objectContaining({ case: uk.id, parsed: 1, unparsed: 0 })]);
    expect((await db.db.selectFrom('cases').select('language').where('id', '=', uk.id).executeTakeFirstOrThrow()).language).toBe('uk');
  });

  it('scores a language a reload adds to a pool, from the next mail on (fails on a parser thread left with the old languages)', async () => {
    // The parser thread now running was started with [de, nl, ru, uk]: English is no pool's.
    expect(['ru', 'uk']).toContain((await deliver('alice@example.test', MAILS.en![1]!)).language);
    rewriteTestConfig(cfg, (doc) => (doc.pools[0].languages = ['ru', 'uk', 'en']));
    daemon.signal('SIGHUP');
    await daemon.waitForLog((l) => l.event === 'config.reloaded', 'the reload', bound(15_000));
    expect((await deliver('alice@example.test', MAILS.en![0]!)).language).toBe('en');
    expect((await deliver('alice@example.test', MAILS.uk![1]!)).language).toBe('uk');
  });
});
