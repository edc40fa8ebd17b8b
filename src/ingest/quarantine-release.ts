// `quarantine release <id> --as <supervisor>` (SPEC §5A): a supervisor overrides a check a person
// may override (an expired token, a sender not yet configured as an alias, an action refused then)
// and the kept raw mail is applied as staff mail after all, as the person the token was issued to.
// The release (a compare-and-set on the quarantine row) and the action are one transaction: both
// happen or neither. A check that still fails for another reason quarantines the mail anew.
import fs from 'node:fs';
import { nowIso } from '../clock.js';
import type { Config, ConsultantConfig } from '../config/types.js';
import { writeTx, type Db } from '../db/connection.js';
import { usageError } from '../errors.js';
import { decideQuarantine, getQuarantine, type QuarantineEntry } from '../cases/quarantine.js';
import type { AcceptResult } from './accept.js';
import { classifyInbound } from './classify.js';
import type { ParserPool } from './parse.js';
import { parseStored } from './pipeline.js';
import { contentStore, localRawFile } from '../db/content-store.js';
import { acceptStaffMail } from './staff-accept.js';
import { findStaffToken } from './staff-mail.js';

export interface ReleaseResult {
  quarantine: QuarantineEntry;
  outcome: AcceptResult['outcome'];
  detail: string;
}

export async function releaseQuarantined(db: Db, config: Config, parsers: ParserPool, actor: ConsultantConfig, id: number): Promise<ReleaseResult> {
  const entry = await getQuarantine(db, id);
  const mailbox = config.mailboxes.find((m) => m.id === entry.mailbox) ?? config.mailboxes[0];
  if (!mailbox) throw usageError('ENOMAILBOX', 'No mailbox is configured.');
  const store = contentStore(config, db);
  const file = await localRawFile(store, entry.raw_sha256);
  if (!fs.existsSync(file)) throw usageError('ENORELEASE', `The kept mail of quarantine ${id} is gone from the store (${entry.raw_sha256}).`);
  const parsed = await parseStored(store, parsers, file, config);
  const token = findStaffToken(parsed);
  if (!token) throw usageError('ENORELEASE', `Quarantined mail ${id} names no token any more; it cannot be applied.`);
  const skip = { sender: entry.reason === 'wrong_sender', expiry: entry.reason === 'expired' };
  return writeTx(db, async (tx) => {
    const decided = await decideQuarantine(tx, actor, id, 'released');
    const at = nowIso();
    const result = await acceptStaffMail(
      tx,
      { config, mailbox, source: { kind: 'lmtp', queueId: `quarantine-${id}` }, raw: { sha256: entry.raw_sha256, size: parsed.size }, parsed },
      classifyInbound(parsed, null),
      token,
      at,
      async () => undefined, // the mail was recorded as accepted when it was quarantined
      { skip },
    );
    return { quarantine: decided, outcome: result.outcome, detail: result.detail };
  });
}
