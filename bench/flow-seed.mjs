// bench/flow's large database: copies the newest row of each case-related table `count` times,
// with the columns that must be unique (ids, Message-IDs, digests, UIDs, customer addresses)
// made unique per copy and times spread one minute apart into the past, so the accept
// transaction meets 100k cases, their messages, inbound rows, auto-responses and history the
// way a desk that has run for months would have them. Run with no daemon on the file.
import Database from 'better-sqlite3';

const TABLES = ['cases', 'case_participants', 'customers', 'messages', 'raw_messages', 'inbound', 'outbox', 'case_events'];
const addr = `'seed' || n || '@customers.test'`;
const RULES = {
  case_id: () => `'BENCH-' || (1000000 + n)`,
  customer_address: () => addr,
  from_address: (t) => (t === 'outbox' ? null : addr),
  address: () => addr,
  to_addresses: (t) => (t === 'outbox' ? `'["' || ${addr} || '"]'` : null),
  message_id: () => `'<seed-' || n || '@customers.test>'`,
  sha256: () => `printf('%064d', n)`,
  raw_sha256: () => `printf('%064d', n)`,
  uid: () => `1000000 + n`,
  queue_id: () => `'seed-' || n`,
  claim_token: () => `'seed-' || n`,
};

export function seedCases(file, count) {
  const db = new Database(file);
  db.pragma('foreign_keys = OFF');
  const done = {};
  db.transaction(() => {
    for (const table of TABLES) {
      const info = db.prepare(`pragma table_info(${table})`).all();
      if (info.length === 0) continue;
      const tpl = db.prepare(`select rowid as r from ${table} order by rowid desc limit 1`).get();
      if (!tpl) continue;
      const cols = [];
      const exprs = [];
      for (const c of info) {
        if (c.pk && c.type.toUpperCase() === 'INTEGER') continue;
        const rule = c.name === 'id' && table === 'cases' ? () => `'BENCH-' || (1000000 + n)` : RULES[c.name];
        let expr = rule?.(table) ?? `tpl."${c.name}"`;
        if (!rule && (c.name === 'at' || c.name.endsWith('_at')))
          expr = `case when tpl."${c.name}" is null then null else strftime('%Y-%m-%dT%H:%M:%fZ', tpl."${c.name}", '-' || n || ' minutes') end`;
        cols.push(`"${c.name}"`);
        exprs.push(expr);
      }
      const sql =
        `insert into ${table} (${cols.join(', ')}) with recursive s(n) as (select 1 union all select n + 1 from s where n < ${count}) ` +
        `select ${exprs.join(', ')} from s, ${table} as tpl where tpl.rowid = ${tpl.r}`;
      done[table] = db.prepare(sql).run().changes;
    }
  })();
  db.pragma('foreign_keys = ON');
  db.exec('analyze');
  db.close();
  return done;
}
