// The report rows of migration 017 (SPEC §6): what a closing and a first response were, written
// when they happened, so a report reads narrow rows in index order instead of joining history.
import type { Generated } from 'kysely';

export interface ReportClosingsTable {
  id: Generated<number>;
  case_id: string;
  /** when the case reached solved or closed (the `closed_at` history row's time) */
  at: string;
  /** who closed it; null for the system */
  consultant: string | null;
  pool_id: string;
  /** 1 when `at` is at or before the case's response deadline */
  on_time: number;
  /** 1 when a consultation was asked before this closing */
  consulted: number;
  /** from the case's receipt to this closing */
  resolution_ms: number;
  /** when the case, reopened, closed again: a period counts a case at its last closing in it */
  next_closing_at: string | null;
}

export interface ReportFirstResponsesTable {
  case_id: string;
  at: string;
  /** whose reply it was; null for the system */
  consultant: string | null;
  pool_id: string;
  response_ms: number;
}

export interface ReportReceivedTable {
  id: Generated<number>;
  case_id: string;
  /** when the customer's mail arrived */
  at: string;
  /** who held the case then, or who took it up next; null while nobody has */
  consultant: string | null;
  pool_id: string;
}
