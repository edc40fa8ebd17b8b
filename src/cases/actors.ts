// Who acts: the consultant named by --as (or MAILWARDEN_AS), looked up in the config, and the role
// checks every action shares (SPEC §7).
import type { Config, ConsultantConfig } from '../config/types.js';
import { usageError } from '../errors.js';

function knownConsultants(config: Config): string {
  return config.consultants.map((c) => c.id).join(', ') || '(none configured)';
}

/** The consultant with this id, or a usage error naming the known ones. */
export function findConsultant(config: Config, id: string): ConsultantConfig {
  const found = config.consultants.find((c) => c.id === id);
  if (!found) throw usageError('EUNKNOWNCONSULTANT', `There is no consultant "${id}" (known: ${knownConsultants(config)}).`);
  return found;
}

/** The acting consultant: `as` (from --as) beats MAILWARDEN_AS; one of them is required. */
export function resolveActor(config: Config, as: string | undefined, env: NodeJS.ProcessEnv = process.env): ConsultantConfig {
  const id = as ?? env.MAILWARDEN_AS;
  if (!id) {
    throw usageError('ENOACTOR', `No consultant was named (known: ${knownConsultants(config)}).`);
  }
  return findConsultant(config, id);
}

/** Like resolveActor, but nobody named is fine (read commands that only record presence). */
export function optionalActor(config: Config, as: string | undefined, env: NodeJS.ProcessEnv = process.env): ConsultantConfig | null {
  const id = as ?? env.MAILWARDEN_AS;
  return id ? findConsultant(config, id) : null;
}

export function isSupervisor(c: ConsultantConfig): boolean {
  return c.roles.includes('supervisor');
}

/** Consultants who get a pool's overdue notices: its supervisors (anyone with the role who works the pool, else every supervisor). */
export function poolSupervisors(config: Config, poolId: string): ConsultantConfig[] {
  const all = config.consultants.filter(isSupervisor);
  const inPool = all.filter((c) => c.pools.some((p) => p.pool === poolId));
  return inPool.length > 0 ? inPool : all;
}

/**
 * Only the assignee or a supervisor acts on an assigned case; an unassigned case is open to
 * anyone who works its pool (acting on it takes it) and to supervisors.
 */
export function checkMayWorkOn(actor: ConsultantConfig, c: { id: string; pool_id: string; assignee: string | null }, what: string): void {
  if (isSupervisor(actor)) return;
  if (c.assignee !== null) {
    if (c.assignee === actor.id) return;
    throw usageError('EFORBIDDEN', `Case ${c.id} is assigned to ${c.assignee}; only they or a supervisor may ${what} it.`);
  }
  if (!actor.pools.some((p) => p.pool === c.pool_id)) {
    throw usageError('EFORBIDDEN', `${actor.id} does not work pool ${c.pool_id}, so may not ${what} case ${c.id}.`);
  }
}
