// Row types of the tables that let several daemons share one database (SPEC §10, migrations 018
// and 019): who works which box, which daemons are alive, and raw mail kept in the database so
// every node can read it. Apart from schema.ts to keep that file readable.

/** Which daemon works a box, until when (SPEC §10; src/db/leases.ts). */
export interface BoxLeasesTable {
  mailbox_id: string;
  /** holder id `<node_name>:<pid>:<random>` (src/daemon/leases.ts) */
  holder: string;
  expires_at: string;
  /** when this holder took the box (a renewal keeps it) */
  taken_at: string;
}

/** A running daemon's heartbeat: the live ones share the boxes. */
export interface DaemonNodesTable {
  /** the daemon's holder id */
  id: string;
  /** instance.node_name */
  node: string;
  pid: number;
  started_at: string;
  seen_at: string;
}

/** Raw mail and attachments in 1 MiB chunks, when `storage.files` is `database` (src/db/content-store.ts). */
export interface StoredChunksTable {
  kind: 'raw' | 'blob';
  sha256: string;
  seq: number;
  bytes: Buffer;
}
