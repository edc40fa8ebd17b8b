// How much a message's own words look like each language, for src/cases/case-language.ts to
// choose the case's language among its pool's. Computed in the parser thread (parse-core.ts),
// never in the daemon's main thread: the detector's n-gram table costs some 30 MB of heap and
// 50 MB of RSS to load, and the main thread must stay small (it holds every box's connection and
// the accept transactions). The parser does not know the pool (one LMTP delivery is parsed once
// for recipients in different pools), so it scores every language the detector knows and finds a
// trace of; the accept side picks. Scores only compare within one message.
//
// The detector is eld (Efficient Language Detector), its extra-small table. Measured on short
// customer mails in ru, uk, nl, de, en and pl (pools [ru, uk], [nl, de], [en, pl] and all six),
// it told every one apart, Ukrainian without і/ї/є included, where franc (trigrams) mixed up short
// Russian/Ukrainian and English lines and tinyld missed Ukrainian mail with none of its own
// letters. The bigger eld tables scored the same and cost more memory. eld's best language
// within a subset is the one with the highest score among its members, so choosing from these
// scores is the same as detecting with the pool as the subset.

type Detector = (typeof import('eld/extrasmall'))['eld'];

/** language (ISO 639-1) -> score in 0..1; languages without a trace are absent. */
export type LanguageScores = Record<string, number>;

/** Where the customer's own words are looked for: the detector reads the first 1000 characters. */
const MAX_SCANNED_CHARS = 20_000;

let detector: Promise<Detector> | null = null;

/** Loads the table once per thread; the parser thread calls it at start so no message waits. */
export function loadLanguageDetector(): Promise<Detector> {
  detector ??= import('eld/extrasmall').then((m) => {
    // URLs, addresses and numbers (order ids, phone numbers) say nothing about the language.
    m.eld.enableTextCleanup(true);
    // The first detection compiles the scoring code: done now, not for the first message.
    m.eld.detect('warm up');
    return m.eld;
  });
  return detector;
}

/** The scores of the subject and the non-quoted body text. */
export async function languageScores(subject: string, text: string): Promise<LanguageScores> {
  const own = `${subject}\n${withoutQuotes(text)}`;
  if (!/\p{L}/u.test(own)) return {};
  const eld = await loadLanguageDetector();
  const scores: LanguageScores = {};
  for (const [language, score] of Object.entries(eld.detect(own).getScores())) {
    if (Number.isFinite(score) && score > 0) scores[language] = score;
  }
  return scores;
}

/** The customer's own words: quoted lines of earlier mail (ours, say) would skew the detection. */
function withoutQuotes(text: string): string {
  return text
    .slice(0, MAX_SCANNED_CHARS)
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('>'))
    .join('\n');
}
