// The language of a new case: Content-Language when it names one of the pool's languages, else
// a small stop-word count over the text, choosing only among the pool's languages, else the
// pool's first language. Enough to pick the right snippet translation; not a general detector.

const STOP_WORDS: Record<string, string[]> = {
  en: [
    'the',
    'and',
    'you',
    'that',
    'have',
    'for',
    'not',
    'with',
    'this',
    'but',
    'from',
    'please',
    'would',
    'my',
    'is',
    'are',
    'was',
    'your',
    'thank',
    'hello',
    'regards',
    'can',
    'will',
    'it',
  ],
  pl: [
    'nie',
    'się',
    'jest',
    'że',
    'na',
    'to',
    'do',
    'jak',
    'mam',
    'mój',
    'moja',
    'moje',
    'proszę',
    'dzień',
    'dobry',
    'pozdrawiam',
    'dziękuję',
    'czy',
    'już',
    'ale',
    'oraz',
    'karta',
    'kartę',
    'też',
    'był',
    'została',
    'został',
    'jestem',
    'mnie',
    'przez',
  ],
  de: [
    'und',
    'der',
    'die',
    'das',
    'ist',
    'nicht',
    'ich',
    'sie',
    'mit',
    'den',
    'ein',
    'eine',
    'bitte',
    'danke',
    'für',
    'auf',
    'ihr',
    'mein',
    'meine',
    'wir',
    'haben',
    'grüße',
    'sehr',
    'geehrte',
  ],
  fr: [
    'le',
    'la',
    'les',
    'et',
    'est',
    'pas',
    'je',
    'vous',
    'que',
    'une',
    'pour',
    'dans',
    'merci',
    'bonjour',
    'mon',
    'ma',
    'mes',
    'avec',
    'sur',
    'cordialement',
    'nous',
    'suis',
    'ai',
  ],
  es: [
    'el',
    'la',
    'los',
    'las',
    'y',
    'es',
    'no',
    'que',
    'por',
    'para',
    'con',
    'una',
    'mi',
    'gracias',
    'hola',
    'saludos',
    'tengo',
    'está',
    'pero',
    'muy',
    'del',
  ],
  it: ['il', 'la', 'che', 'non', 'di', 'per', 'una', 'sono', 'mi', 'grazie', 'buongiorno', 'saluti', 'con', 'del', 'della', 'ho', 'è', 'ma', 'cordiali'],
  nl: ['de', 'het', 'een', 'en', 'niet', 'ik', 'van', 'is', 'dat', 'met', 'voor', 'mijn', 'bedankt', 'groeten', 'graag', 'u', 'we', 'zijn', 'heb'],
  pt: ['o', 'a', 'os', 'que', 'não', 'de', 'para', 'com', 'uma', 'meu', 'minha', 'obrigado', 'obrigada', 'olá', 'por', 'favor', 'está', 'mas', 'cumprimentos'],
  cs: ['je', 'se', 'na', 'že', 'to', 'ne', 'jsem', 'mám', 'prosím', 'děkuji', 'dobrý', 'den', 'pozdravem', 'moje', 'karta', 'ale', 'jak'],
  sv: ['och', 'att', 'det', 'är', 'inte', 'jag', 'som', 'för', 'med', 'min', 'mitt', 'tack', 'hej', 'hälsningar', 'har', 'på', 'en'],
};

/** The pool's language for this text (pool languages in order of preference, the first is the fallback). */
export function detectLanguage(input: { contentLanguage: string | null; subject: string; text: string }, poolLanguages: string[]): string | null {
  if (poolLanguages.length === 0) return input.contentLanguage;
  if (input.contentLanguage && poolLanguages.includes(input.contentLanguage)) return input.contentLanguage;
  if (poolLanguages.length === 1) return poolLanguages[0]!;
  const words = tokens(`${input.subject}\n${withoutQuotes(input.text)}`);
  let best: string | null = null;
  let bestScore = 0;
  for (const lang of poolLanguages) {
    const list = STOP_WORDS[lang];
    if (!list) continue;
    const set = new Set(list);
    let score = 0;
    for (const w of words) if (set.has(w)) score++;
    // Diacritics are strong hints where a language has its own.
    score += diacriticBonus(lang, words);
    if (score > bestScore) {
      best = lang;
      bestScore = score;
    }
  }
  return best ?? poolLanguages[0]!;
}

function tokens(text: string): string[] {
  return text
    .slice(0, 20_000)
    .toLowerCase()
    .split(/[^\p{L}]+/u)
    .filter((w) => w.length > 0)
    .slice(0, 3_000);
}

/** The customer's own words: quoted lines of earlier mail (ours, say) would skew the count. */
function withoutQuotes(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('>'))
    .join('\n');
}

const DIACRITICS: Record<string, RegExp> = {
  pl: /[ąćęłńóśźż]/,
  de: /[äöüß]/,
  fr: /[àâçéèêëîïôûùœ]/,
  cs: /[čďěňřšťůž]/,
  es: /[ñ¿¡]/,
  sv: /[åäö]/,
};

function diacriticBonus(lang: string, words: string[]): number {
  const re = DIACRITICS[lang];
  if (!re) return 0;
  let n = 0;
  for (const w of words) if (re.test(w)) n++;
  return n * 0.5;
}
