// Questionnaires answered when closing (or on every reply, per `required_on`): required answers
// must be there, dictionary answers must be one of the dictionary's values (SPEC §5).
import type { Kysely } from 'kysely';
import type { Config, QuestionnaireConfig } from '../config/types.js';
import type { DB } from '../db/schema.js';
import { dataError, usageError } from '../errors.js';

export type Answers = Record<string, string>;

/** `key=value` pairs from repeated --answer options. */
export function parseAnswers(pairs: string[]): Answers {
  const out: Answers = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw usageError('EBADANSWER', `An answer is key=value, not "${pair}".`);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

export function poolQuestionnaire(config: Config, poolId: string): QuestionnaireConfig | null {
  const id = config.pools.find((p) => p.id === poolId)?.questionnaire;
  return id ? (config.questionnaires.find((q) => q.id === id) ?? null) : null;
}

export function questionnaireRequired(q: QuestionnaireConfig, closing: boolean): boolean {
  return q.required_on === 'reply' || closing;
}

/**
 * Checks answers against the questionnaire and returns them with dictionary values in the
 * dictionary's spelling. Every problem is listed at once: missing answers, values outside the
 * dictionary (with the allowed values), unknown keys.
 */
export function checkAnswers(config: Config, q: QuestionnaireConfig, answers: Answers, required: boolean): Answers {
  const problems: string[] = [];
  const out: Answers = {};
  const known = new Set(q.questions.map((x) => x.key));
  for (const key of Object.keys(answers)) {
    if (!known.has(key)) problems.push(`${key}: not a question of ${q.id} (questions: ${[...known].join(', ')})`);
  }
  for (const question of q.questions) {
    const given = answers[question.key];
    const values = question.dictionary ? (config.dictionaries.find((d) => d.id === question.dictionary)?.values ?? []) : null;
    const allowed = values ? ` (allowed: ${values.join(', ')})` : '';
    if (given === undefined || given === '') {
      if (required && question.required) problems.push(`${question.key}: missing — ${question.text}${allowed}`);
      continue;
    }
    if (values) {
      const match = values.find((v) => v.toLowerCase() === given.toLowerCase());
      if (!match) {
        problems.push(`${question.key}: "${given}" is not allowed${allowed}`);
        continue;
      }
      out[question.key] = match;
    } else {
      out[question.key] = given;
    }
  }
  if (problems.length > 0) {
    throw dataError('EQUESTIONNAIRE', `The questionnaire "${q.name}" is not answered correctly.`, problems);
  }
  return out;
}

export async function storeAnswers(tx: Kysely<DB>, caseId: string, q: QuestionnaireConfig, answers: Answers, by: string, at: string): Promise<void> {
  for (const [key, value] of Object.entries(answers)) {
    await tx.insertInto('questionnaire_answers').values({ case_id: caseId, questionnaire_id: q.id, key, value, answered_by: by, at }).execute();
  }
}
