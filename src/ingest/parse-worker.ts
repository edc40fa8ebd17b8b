// Entry of the parser thread. Parsing hostile mail runs here, not in the daemon's main thread:
// a parser bug that throws asynchronously, loops or eats memory kills this thread only, and the
// message becomes an `unparsed` case instead of a crashed daemon that would meet the same
// message again after every restart. The language detector's table is loaded here too, at the
// thread's start (so the first message does not wait for it), and never in the main thread.
import { parentPort } from 'node:worker_threads';
import { loadLanguageDetector } from './language-scores.js';
import { parseMessageFile, type ParseJob } from './parse-core.js';
import { nameThisThread } from '../thread-name.js';

nameThisThread('mw-parser');

interface Request {
  id: number;
  job: ParseJob;
}

// A table that cannot load fails each parse that needs it, and that message is kept as unparsed,
// with the reason logged: loud, where a silent fallback language would hide a broken install.
// Once it is loaded (or has failed) the thread says it is ready: the pool does not count the time
// jobs wait for a thread still starting as time waited for a busy one (parse.ts, spareAfterMs).
loadLanguageDetector()
  .catch(() => undefined)
  .finally(() => parentPort?.postMessage({ ready: true }));

parentPort?.on('message', (req: Request) => {
  parseMessageFile(req.job).then(
    (result) => parentPort?.postMessage({ id: req.id, result }),
    (err: unknown) => parentPort?.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
