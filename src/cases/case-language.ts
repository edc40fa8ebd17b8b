// The language of a new case: Content-Language when it names one of the pool's languages, else
// the pool language the text looks most like, else the pool's first language. The looking was
// done by the parser thread (src/ingest/language-scores.ts), which scored every language it
// knows, because it cannot know the pool; here, when the accept transaction opens the case
// (open-from-mail.ts), only the pool's languages compete. A case rule, so it lives in src/cases.
// Nothing here loads the detector: choosing is a lookup, so the main thread stays small.

/** The pool's language for this message (pool languages in order of preference, the first is the fallback). */
export function caseLanguage(input: { contentLanguage: string | null; languageScores: Record<string, number> }, poolLanguages: string[]): string | null {
  if (poolLanguages.length === 0) return input.contentLanguage;
  if (input.contentLanguage && poolLanguages.includes(input.contentLanguage)) return input.contentLanguage;
  let best = poolLanguages[0]!;
  let bestScore = 0;
  for (const language of poolLanguages) {
    // Own properties only: the scores crossed a thread as plain data, and a pool language named
    // like an Object.prototype member must not find one.
    const score = Object.hasOwn(input.languageScores, language) ? input.languageScores[language] : undefined;
    // Strictly greater: on a tie the language earlier in the pool's order wins.
    if (typeof score === 'number' && Number.isFinite(score) && score > bestScore) {
      best = language;
      bestScore = score;
    }
  }
  return best;
}
