// Names the calling thread for the operating system. Why: the daemon runs its file writes, its
// parsing and its WAL checkpoints on threads of their own, and to `top -H`, `ps -L` or
// /proc/<pid>/task they were all "node", beside the main thread and Node's own helpers (V8's
// compiler and garbage collector, libuv's pool): an operator could not tell a parser thread
// spinning on a hostile message from the compiler warming up, nor a bench split the daemon's CPU
// by thread. Linux lets a thread rename itself through /proc/thread-self/comm (15 bytes at most);
// elsewhere, or without /proc, the thread keeps its name and nothing else changes.
import fs from 'node:fs';

/** The daemon's threads (README, Operations), and the second reader some commands start (src/db/parallel-read.ts). */
export type ThreadName = 'mw-file' | 'mw-parser' | 'mw-checkpoint' | 'mw-read';

export function nameThisThread(name: ThreadName): void {
  if (process.platform !== 'linux') return;
  try {
    fs.writeFileSync('/proc/thread-self/comm', name);
  } catch {
    // Only a label: a thread without it works the same.
  }
}
