// Absence and replacement (SPEC §5D): who is away, until when, and who stands in. An absence is one
// row per consultant in `absences`; it counts while `until` is in the future and ends by itself
// when that time passes (nothing has to delete it: every question here compares with now()).
// `onDuty` answers the question every notification path asks: who should hear about consultant X's
// case now? X, or X's replacement while X is away (following the chain when the replacement is
// away too), or nobody when X left no replacement; the caller then falls back as it would for an
// unassigned case. Setting and clearing live in absence-set.ts, moving cases in absence-moves.ts.
import type { Kysely, Selectable } from 'kysely';
import { nowIso } from '../clock.js';
import type { Config, ConsultantConfig } from '../config/types.js';
import type { AbsenceAction, AbsencesTable, DB } from '../db/schema.js';

export type AbsenceRow = Selectable<AbsencesTable>;

/** The consultant's absence if it still runs at `at`; an absence whose `until` has passed is over. */
export async function activeAbsence(tx: Kysely<DB>, consultant: string, at = nowIso()): Promise<AbsenceRow | null> {
  const row = await tx.selectFrom('absences').selectAll().where('consultant', '=', consultant).where('until', '>', at).executeTakeFirst();
  return row ?? null;
}

export async function isAbsent(tx: Kysely<DB>, consultant: string, at = nowIso()): Promise<boolean> {
  return (await activeAbsence(tx, consultant, at)) !== null;
}

/**
 * Who is on duty for `consultant` at `at`: themself when here; while away, their replacement (or
 * the replacement's, when that one is away too); null when the chain ends with nobody here.
 */
export async function onDuty(tx: Kysely<DB>, config: Config, consultant: string, at = nowIso()): Promise<ConsultantConfig | null> {
  const seen = new Set<string>();
  let id: string | null = consultant;
  while (id !== null && !seen.has(id)) {
    seen.add(id);
    const away = await activeAbsence(tx, id, at);
    if (!away) return config.consultants.find((c) => c.id === id) ?? null;
    id = away.replacement;
  }
  return null;
}

/** The JSON shape of `mailwarden absences --json`. */
export interface AbsenceEntry {
  consultant: string;
  name: string | null;
  until: string;
  replacement: string | null;
  set_by: string;
  at: string;
}

/** Absences running now, the one ending first first. */
export async function listAbsences(db: Kysely<DB>, config: Config, at = nowIso()): Promise<AbsenceEntry[]> {
  const rows = await db.selectFrom('absences').selectAll().where('until', '>', at).orderBy('until').orderBy('consultant').execute();
  return rows.map((r) => ({
    consultant: r.consultant,
    name: config.consultants.find((c) => c.id === r.consultant)?.name ?? null,
    until: r.until,
    replacement: r.replacement,
    set_by: r.set_by,
    at: r.at,
  }));
}

/** The JSON shape of `mailwarden absences --history --json`. */
export interface AbsenceLogEntry {
  id: number;
  consultant: string;
  action: AbsenceAction;
  until: string | null;
  replacement: string | null;
  by: string;
  at: string;
  previous: { until: string; replacement: string | null; set_by: string; at: string } | null;
}

/** Every set, replace and clear, oldest first. */
export async function absenceHistory(db: Kysely<DB>): Promise<AbsenceLogEntry[]> {
  const rows = await db.selectFrom('absence_log').selectAll().orderBy('id').execute();
  return rows.map((r) => ({ ...r, previous: r.previous ? (JSON.parse(r.previous) as AbsenceLogEntry['previous']) : null }));
}
