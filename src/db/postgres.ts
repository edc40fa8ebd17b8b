// PostgreSQL, for a desk that outgrows one machine (SPEC §10): several daemons share one database.
// Everything above src/db sees the same kysely interface and the same row types as on SQLite, so
// the differences are settled here, once:
// - values come back as SQLite gives them: times as ISO-8601 UTC strings (`…T…Z`, what nowIso()
//   writes), 64-bit integers and counts as numbers (never strings), so no caller converts;
// - the migrations, written once for both, are translated while they run: a time column (named
//   `at`, `…_at`, `until` or `…_until`) becomes timestamptz, every integer bigint (milliseconds
//   and counters outgrow 32 bits), `blob` bytea, an auto-increment key an identity column.
// The pool is small: a daemon's services take turns on a handful of connections.
// pg itself is required on the first PostgreSQL connection: every daemon and command imports this
// file (for isTimeColumn and the like), and one on SQLite should not carry the driver's heap.
import { createRequire } from 'node:module';
import type pg from 'pg';
import { ColumnDefinitionNode, DataTypeNode, Kysely, OperationNodeTransformer, PostgresDialect, type KyselyPlugin, type RootOperationNode } from 'kysely';
import type { PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, UnknownRow } from 'kysely';
import { unavailableError } from '../errors.js';
import type { DB } from './schema.js';

const requireCjs = createRequire(import.meta.url);
let driver: typeof pg | undefined;
const pgDriver = (): typeof pg => (driver ??= requireCjs('pg') as typeof pg);

/** PostgreSQL's type OIDs for what must come back as SQLite returns it. */
const OID = { int8: 20, numeric: 1700, timestamptz: 1184, timestamp: 1114 } as const;

/** timestamptz text (`2026-10-05 10:00:00.123+02`) → `2026-10-05T08:00:00.123Z`, like nowIso(). */
function isoFromTimestamptz(text: string): string {
  return (parseTimestamptz ??= pgDriver().types.getTypeParser(OID.timestamptz) as (text: string) => Date)(text).toISOString();
}

/** pg's own reading of timestamptz text, whatever the server's TimeZone (`…+02`, microseconds). */
let parseTimestamptz: ((text: string) => Date) | undefined;

function numberFrom(text: string): number {
  return Number(text);
}

/** Per pool (not pg's global table): how each returned type is read. */
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === OID.int8 || oid === OID.numeric) return numberFrom;
    if (oid === OID.timestamptz) return isoFromTimestamptz;
    return pgDriver().types.getTypeParser(oid, format as 'text') as (text: string) => unknown;
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export interface PostgresOptions {
  url: string;
  /** Connections in the pool; a CLI command needs two (a reader beside a write), a daemon more. */
  maxConnections?: number;
}

export function openPostgres(opts: PostgresOptions): { db: Kysely<DB>; pool: pg.Pool } {
  const pool = new (pgDriver().Pool)({ connectionString: opts.url, max: opts.maxConnections ?? 6, types: typeParsers, connectionTimeoutMillis: 15_000 });
  // An idle connection the server drops (restart, failover) must not crash the process; the next
  // query gets a fresh one and its own error.
  pool.on('error', () => undefined);
  const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }), plugins: [new PostgresColumnTypes()] });
  return { db, pool };
}

/** Checks that the server answers, with one sentence naming it when it does not. */
export async function checkReachable(pool: pg.Pool, url: string): Promise<void> {
  try {
    const client = await pool.connect();
    client.release();
  } catch (err) {
    throw unavailableError('EDBOPEN', `Cannot reach the PostgreSQL database ${redactUrl(url)}: ${(err as Error).message}.`);
  }
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

/** A column that holds an instant: the naming rule of the schema (see src/db/schema.ts). */
export function isTimeColumn(name: string): boolean {
  return name === 'at' || name.endsWith('_at') || name === 'until' || name.endsWith('_until');
}

/** Rewrites column definitions of CREATE/ALTER TABLE into PostgreSQL's types (see the top). */
class ColumnTypeTransformer extends OperationNodeTransformer {
  protected override transformColumnDefinition(node: ColumnDefinitionNode): ColumnDefinitionNode {
    const base = super.transformColumnDefinition(node);
    const type = DataTypeNode.is(base.dataType) ? base.dataType.dataType : undefined;
    if (base.autoIncrement) return withType(ColumnDefinitionNode.cloneWith(base, { autoIncrement: false }), 'bigserial');
    if (type === 'integer') return withType(base, 'bigint');
    if (type === 'blob') return withType(base, 'bytea');
    if (type === 'text' && isTimeColumn(base.column.column.name)) return withType(base, 'timestamptz');
    return base;
  }
}

function withType(node: ColumnDefinitionNode, dataType: 'bigint' | 'bigserial' | 'bytea' | 'timestamptz'): ColumnDefinitionNode {
  return { ...node, dataType: DataTypeNode.create(dataType) };
}

class PostgresColumnTypes implements KyselyPlugin {
  private readonly transformer = new ColumnTypeTransformer();

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    const kind = args.node.kind;
    if (kind !== 'CreateTableNode' && kind !== 'AlterTableNode') return args.node;
    return this.transformer.transformNode(args.node);
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
