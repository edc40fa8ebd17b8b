// What the case rules read of an inbound message (open-from-mail.ts, inbound-effects.ts), named
// here so that src/cases never imports src/ingest: ingest calls into cases, and the layers test
// (test/foundation/layers.test.ts) forbids the loop back. Ingest hands over its ParsedMessage
// (src/ingest/message.ts) as it is; it has all of these fields, so no mapping is needed.
import type { MessageFields } from '../db/message-rows.js';

export interface InboundMail extends MessageFields {
  /** Case/message flags the parse implies: unparsed, oversize, truncated. */
  flags: string[];
  /** primary subtag of Content-Language, lower case */
  contentLanguage: string | null;
  /** language -> how much the message looks like it, scored by the parser (src/ingest/language-scores.ts) */
  languageScores: Record<string, number>;
}
