// Entry of the parser thread. Parsing hostile mail runs here, not in the daemon's main thread:
// a parser bug that throws asynchronously, loops or eats memory kills this thread only, and the
// message becomes an `unparsed` case instead of a crashed daemon that would meet the same
// message again after every restart.
import { parentPort } from 'node:worker_threads';
import { parseMessageFile, type ParseJob } from './parse-core.js';

interface Request {
  id: number;
  job: ParseJob;
}

parentPort?.on('message', (req: Request) => {
  parseMessageFile(req.job).then(
    (result) => parentPort?.postMessage({ id: req.id, result }),
    (err: unknown) => parentPort?.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
