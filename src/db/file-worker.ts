// The file thread (./file-thread.ts): each job's bytes made a durable file by writeDurablySync
// (or the file it names fsynced: ./commit-sync.ts), the answer (or the failure with its system
// code) posted back with the job's id.
import { parentPort } from 'node:worker_threads';
import type { FileAnswer, FileJob } from './file-thread.js';
import { writeDurablySync } from './stored-files.js';
import { fsyncFileSync } from './commit-sync.js';
import { nameThisThread } from '../thread-name.js';

nameThisThread('mw-file');

parentPort?.on('message', (job: FileJob) => {
  let answer: FileAnswer = { id: job.id };
  try {
    if ('sync' in job) fsyncFileSync(job.sync);
    else writeDurablySync(job.root, job.sha256, job.bytes);
  } catch (err) {
    answer = { id: job.id, error: { message: (err as Error).message, code: (err as NodeJS.ErrnoException).code } };
  }
  parentPort?.postMessage(answer);
});
