// Where content-addressed files live under the data dir: raw RFC 822 messages (raw/<aa>/<sha256>)
// and decoded attachments (blobs/<aa>/<sha256>). Only the naming sits here, below every folder
// that reads them (ingest stores them, src/ingest/raw-store.ts; cases export and erase them).
import path from 'node:path';

/** Where the raw message with this SHA-256 lives (whether or not it exists). */
export function rawPath(dataDir: string, sha256: string): string {
  return path.join(dataDir, 'raw', sha256.slice(0, 2), sha256);
}

/** Where the decoded attachment with this SHA-256 lives (whether or not it exists). */
export function blobPath(dataDir: string, sha256: string): string {
  return path.join(dataDir, 'blobs', sha256.slice(0, 2), sha256);
}
