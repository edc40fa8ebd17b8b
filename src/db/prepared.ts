// Statements of the hot path built by kysely once per dialect, not once per message. Why: kysely
// builds a tree of frozen nodes for every query and compiles it to SQL each time; that is about
// 30 µs a statement while V8 still runs it unoptimized (the first thousands of messages after a
// start, measured on the 2-core VM), and a message that becomes a case with an auto-response runs
// some thirty statements. A prepared statement is written with kysely as any other (typed, the
// same for SQLite and PostgreSQL); its values come from named parameters, given at execution.
// Values written into the query itself (a constant state, say) stay part of the statement.
import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely';
import { isPostgres } from './dialect.js';
import type { DB } from './schema.js';

/** Where a parameter of the compiled statement comes from: a named value, or the statement itself. */
type Slot<P> = { name: keyof P } | { fixed: unknown };

/** A parameter's stand-in while the statement is built: matched by identity in the compiled parameters. */
class Placeholder {
  constructor(readonly name: string | number | symbol) {}
}

/** The stand-ins for the parameters `P` while a statement is built. */
export interface Param<P> {
  /** The value named `name`, given at execution; usable wherever kysely takes a value. */
  <K extends keyof P>(name: K): P[K];
  /**
   * `{ column: param('column') }` for each column named: the values of an insert that takes every
   * column from the parameter of its own name, so the columns are listed once (the same list, `as
   * const`, gives the parameters' type: see message-rows.ts).
   */
  columns<K extends keyof P>(names: readonly K[]): Pick<P, K>;
}

export interface Prepared<P, R> {
  /** Runs the statement on `db` (a transaction or the database) with these values. */
  execute(db: Kysely<DB>, params: P): Promise<QueryResult<R>>;
}

/** A statement built by `build` the first time it runs on each dialect, its values named by `param`. */
export function prepared<P extends object, R>(build: (db: Kysely<DB>, param: Param<P>) => Compilable<R>): Prepared<P, R> {
  const compiled = new Map<'postgres' | 'sqlite', { query: CompiledQuery<R>; slots: Array<Slot<P>> }>();
  const compile = (db: Kysely<DB>) => {
    const placeholders = new Set<Placeholder>();
    const one = <K extends keyof P>(name: K): P[K] => {
      const p = new Placeholder(name);
      placeholders.add(p);
      return p as P[K];
    };
    const columns = <K extends keyof P>(names: readonly K[]) => Object.fromEntries(names.map((n) => [n, one(n)])) as Pick<P, K>;
    const param: Param<P> = Object.assign(one, { columns });
    const query = build(db, param).compile();
    const standIn = (value: unknown): value is Placeholder => value instanceof Placeholder && placeholders.has(value);
    const slots = query.parameters.map((value): Slot<P> => (standIn(value) ? { name: value.name as keyof P } : { fixed: value }));
    // Every stand-in made must come back as a parameter (one used in two places comes back twice).
    const passed = new Set(query.parameters.filter(standIn));
    if (passed.size !== placeholders.size) {
      throw new Error(`prepared statement: kysely did not pass every parameter through as a value (${query.sql})`);
    }
    return { query, slots };
  };
  return {
    async execute(db, params) {
      const dialect = isPostgres(db) ? 'postgres' : 'sqlite';
      let c = compiled.get(dialect);
      if (!c) compiled.set(dialect, (c = compile(db)));
      const parameters = c.slots.map((s) => ('name' in s ? params[s.name] : s.fixed));
      return db.executeQuery<R>(CompiledQuery.raw(c.query.sql, parameters));
    },
  };
}

/** The values of a list, named by their place. */
type ListParams = Record<`item${number}`, unknown>;

export interface PreparedList<P, R> {
  /** Runs the statement prepared for `list`'s length on `db`, with these values and the list's. */
  execute(db: Kysely<DB>, params: P, list: readonly unknown[]): Promise<QueryResult<R>>;
}

/**
 * prepared() for a statement that also takes a list of values (`where id in (…)`), whose SQL
 * differs with the list's length: built once per length the caller uses. `build` gets the list's
 * stand-ins, one per value, to pass where kysely takes an array of values. Callers bound their
 * lists (a batch of claims, the Message-IDs a mail names), so the lengths are few.
 */
export function preparedList<P extends object, R>(build: (db: Kysely<DB>, param: Param<P>, list: unknown[]) => Compilable<R>): PreparedList<P, R> {
  const byLength = new Map<number, Prepared<P & ListParams, R>>();
  const forLength = (n: number) =>
    prepared<P & ListParams, R>((db, param) =>
      build(
        db,
        param,
        Array.from({ length: n }, (_, i) => param(`item${i}`)),
      ),
    );
  return {
    execute(db, params, list) {
      let statement = byLength.get(list.length);
      if (!statement) byLength.set(list.length, (statement = forLength(list.length)));
      const values: ListParams = {};
      list.forEach((value, i) => (values[`item${i}`] = value));
      return statement.execute(db, { ...params, ...values });
    },
  };
}
