// Setting and clearing an absence (SPEC §5D: `mailwarden absence`). Only the consultant themself
// or a supervisor may do either. An absence runs until a time in the future; its replacement is the
// one named, else the consultant's configured `replacement`, else nobody (the cases go back to the
// pool). A replacement must be another consultant who is here now: naming someone who is away is
// refused rather than silently skipped, so the person setting the absence decides who stands in.
// Setting an absence again replaces the one before (both are kept in `absence_log`), and the
// consultant's open cases and the approvals they owe move at once, in the same transaction.
import type { Kysely } from 'kysely';
import { now, nowIso } from '../clock.js';
import type { Config, ConsultantConfig } from '../config/types.js';
import type { AbsenceAction, DB } from '../db/schema.js';
import { usageError } from '../errors.js';
import { formatInZone } from '../time-format.js';
import { activeAbsence, type AbsenceRow } from './absence.js';
import { handOverCases, type MovedCase } from './absence-moves.js';
import { findConsultant, isSupervisor } from './actors.js';
import { rerouteApprovals, type RerouteResult } from './approvals.js';

export interface AbsenceInput {
  consultant: string;
  until: Date;
  /** who stands in: an id; null for nobody; undefined for the consultant's configured replacement */
  replacement?: string | null;
}

/** The JSON shape of `mailwarden absence --json`. */
export interface AbsenceResult {
  consultant: string;
  until: string;
  replacement: string | null;
  /** the absence this one replaced, when one was running */
  replaced: { until: string; replacement: string | null } | null;
  moved: MovedCase[];
  approvals: RerouteResult[];
}

function checkMaySet(actor: ConsultantConfig, who: ConsultantConfig, what: string): void {
  if (actor.id === who.id || isSupervisor(actor)) return;
  throw usageError('EFORBIDDEN', `Only ${who.id} or a supervisor may ${what} ${who.id}'s absence; ${actor.id} is neither.`);
}

function local(iso: string, config: Config): string {
  return formatInZone(new Date(iso), config.instance.timezone, true);
}

/** The replacement asked for (or configured), checked: another consultant, here now. */
async function chooseReplacement(tx: Kysely<DB>, config: Config, who: ConsultantConfig, asked: string | null | undefined, at: string): Promise<string | null> {
  const id = asked === undefined ? (who.replacement ?? null) : asked;
  if (id === null) return null;
  const named = asked === undefined ? `the configured replacement ${id}` : id;
  const replacement = findConsultant(config, id);
  if (replacement.id === who.id) throw usageError('EBADREPLACEMENT', `${who.id} cannot stand in for themself.`);
  const away = await activeAbsence(tx, replacement.id, at);
  if (away) {
    throw usageError('EBADREPLACEMENT', `${named} is absent until ${local(away.until, config)} and cannot stand in for ${who.id}.`);
  }
  return replacement.id;
}

async function logAbsence(
  tx: Kysely<DB>,
  entry: { consultant: string; action: AbsenceAction; until: string | null; replacement: string | null; by: string; at: string },
  previous: AbsenceRow | null,
): Promise<void> {
  const prev = previous ? JSON.stringify({ until: previous.until, replacement: previous.replacement, set_by: previous.set_by, at: previous.at }) : null;
  await tx
    .insertInto('absence_log')
    .values({ ...entry, previous: prev })
    .execute();
}

/** Sets (or replaces) an absence and moves the consultant's open cases and owed approvals. */
export async function setAbsence(tx: Kysely<DB>, config: Config, actor: ConsultantConfig, input: AbsenceInput): Promise<AbsenceResult> {
  const who = findConsultant(config, input.consultant);
  checkMaySet(actor, who, 'set');
  if (input.until.getTime() <= now().getTime()) {
    throw usageError('EBADTIME', `An absence ends in the future; ${formatInZone(input.until, config.instance.timezone, true)} has already passed.`);
  }
  const at = nowIso();
  const until = input.until.toISOString();
  const replacement = await chooseReplacement(tx, config, who, input.replacement, at);
  const previous = await activeAbsence(tx, who.id, at);
  await tx
    .insertInto('absences')
    .values({ consultant: who.id, until, replacement, set_by: actor.id, at })
    .onConflict((oc) => oc.column('consultant').doUpdateSet({ until, replacement, set_by: actor.id, at }))
    .execute();
  await logAbsence(tx, { consultant: who.id, action: previous ? 'replaced' : 'set', until, replacement, by: actor.id, at }, previous);
  const moved = await handOverCases(tx, who.id, replacement, actor.id, until, at);
  const approvals = await rerouteApprovals(tx, config, who.id, actor.id, at);
  return {
    consultant: who.id,
    until,
    replacement,
    replaced: previous ? { until: previous.until, replacement: previous.replacement } : null,
    moved,
    approvals,
  };
}

/** Ends a running absence now. Cases that moved away stay where they are. */
export async function clearAbsence(
  tx: Kysely<DB>,
  config: Config,
  actor: ConsultantConfig,
  consultant: string,
): Promise<{ consultant: string; cleared: AbsenceRow }> {
  const who = findConsultant(config, consultant);
  checkMaySet(actor, who, 'clear');
  const at = nowIso();
  const running = await activeAbsence(tx, who.id, at);
  if (!running) throw usageError('ENOABSENCE', `${who.id} is not absent, so there is no absence to clear.`);
  await tx.deleteFrom('absences').where('consultant', '=', who.id).execute();
  await logAbsence(tx, { consultant: who.id, action: 'cleared', until: null, replacement: null, by: actor.id, at }, running);
  return { consultant: who.id, cleared: running };
}
