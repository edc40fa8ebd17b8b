// Runs parse jobs in a small pool of parser threads (parse-worker.ts), one job per thread at a
// time so a crash or a timeout is pinned on the message that caused it. A job always resolves:
// when the thread dies, overruns its time or cannot start, the result is the raw-header reading
// of the message flagged `unparsed`, so ingest goes on and nothing is lost.
// Each thread is a V8 heap of its own with mailparser and the language table of the pools'
// languages loaded (tens of MB; language-table.ts), so threads start on the first job that needs
// one, not with the pool, and a thread idle for `idleMs` exits: an idle daemon holds none. A
// config reload that changes the languages replaces each thread at its next job. The parser
// itself (parse-core) is loaded into the main thread only when there are no threads or a message
// has to fall back, for the same reason.
// A second thread starts only when a job has waited `spareAfterMs` for the first (once that one
// has loaded the parser: waiting for a thread to start is not waiting for a busy one): one thread
// parses a few hundred ordinary messages a second, and every thread loads the parser and warms
// up its compiled code for itself (measured in 2,000-message IMAP drains: a second thread taken
// on at once cost 0.3 to 1.4 ms of CPU per message). The spare is for a message that keeps the
// first one busy (a large one, or one that hangs until its timeout).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../log.js';
import type { ParseJob } from './parse-core.js';
import type { ParsedMessage } from './message.js';
import type { Config } from '../config/types.js';
import { detectedLanguages, type ParserThreadData } from './language-table.js';

export type { ParseJob, ParseLimits } from './parse-core.js';

/** Young-generation size of each parser thread (see spawn()). */
const PARSER_YOUNG_GENERATION_MB = 8;

/** How long a parser thread waits for its next job before it exits. */
const DEFAULT_IDLE_MS = 30_000;

/** How long a job waits for a busy thread before another thread is started for it. */
const DEFAULT_SPARE_AFTER_MS = 200;

const WORKER_FILE = fileURLToPath(new URL('./parse-worker.js', import.meta.url));

export interface ParserPoolOptions {
  size?: number;
  /**
   * false: parse in the calling thread, without the isolation of a thread (for a measurement of
   * the pipeline's own memory, whose collector the caller can run). Default: threads.
   */
  threads?: boolean;
  log?: Logger;
  /** Heap limit of each parser thread. */
  maxHeapMb?: number;
  /** A thread without a job for this long exits; the next job starts a new one. */
  idleMs?: number;
  /** Another thread (up to `size`) starts only for a job that waited this long while every running thread was busy. */
  spareAfterMs?: number;
  /**
   * The languages to score (language-table.ts), asked for each job: a config reload that changes
   * them replaces the threads started with others. Default: every language the detector knows.
   */
  languages?: () => readonly string[] | null;
}

interface Slot {
  worker: Worker | null;
  /** performance.now() when the thread said it had loaded the parser; null while it starts */
  readyAt: number | null;
  busy: boolean;
  idleTimer: NodeJS.Timeout | null;
  /** the languages its thread was started with (languagesKey) */
  languages: string;
}

interface Pending {
  job: ParseJob;
  /** performance.now() when the job was queued */
  queuedAt: number;
  resolve: (r: ParsedMessage) => void;
  reject: (err: unknown) => void;
}

export class ParserPool {
  private readonly slots: Slot[];
  private readonly queue: Pending[] = [];
  private readonly useThreads: boolean;
  private nextId = 1;
  private closed = false;
  /** Wakes pump() when the job at the head of the queue has waited long enough for a spare thread. */
  private spareTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: ParserPoolOptions = {}) {
    this.useThreads = opts.threads !== false && fs.existsSync(WORKER_FILE);
    this.slots = Array.from({ length: Math.max(1, opts.size ?? 2) }, () => ({ worker: null, readyAt: null, busy: false, idleTimer: null, languages: '' }));
  }

  parse(job: ParseJob): Promise<ParsedMessage> {
    if (!this.useThreads) return parseInThread(job);
    return new Promise((resolve, reject) => {
      this.queue.push({ job, queuedAt: performance.now(), resolve, reject });
      this.pump();
    });
  }

  /** Parser threads running now (started by a job, not yet exited for idleness). */
  get threads(): number {
    return this.slots.filter((s) => s.worker).length;
  }

  /** Ends every thread that has no job now; what its idle timer does for one thread. */
  async retireIdle(): Promise<void> {
    await Promise.all(this.slots.filter((s) => !s.busy).map((s) => this.retire(s)));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.spareTimer) clearTimeout(this.spareTimer);
    this.spareTimer = null;
    await Promise.all(this.slots.map((s) => this.retire(s)));
  }

  private async retire(slot: Slot): Promise<void> {
    if (slot.idleTimer) clearTimeout(slot.idleTimer);
    slot.idleTimer = null;
    const worker = slot.worker;
    slot.worker = null;
    slot.readyAt = null;
    await worker?.terminate();
  }

  private pump(): void {
    if (this.spareTimer) clearTimeout(this.spareTimer);
    this.spareTimer = null;
    for (let slot = this.freeSlot(); slot && this.queue.length > 0; slot = this.freeSlot()) {
      const next = this.queue.shift()!;
      slot.busy = true;
      if (slot.idleTimer) clearTimeout(slot.idleTimer);
      slot.idleTimer = null;
      // The slot is free again before the caller hears the result, so whoever then asks the pool
      // (retireIdle, the next parse) sees it idle.
      const free = () => {
        slot.busy = false;
        if (slot.worker && !this.closed) this.armIdleTimer(slot);
      };
      void this.run(slot, next.job).then(
        (result) => {
          free();
          next.resolve(result);
          this.pump();
        },
        (err: unknown) => {
          free();
          next.reject(err);
          this.pump();
        },
      );
    }
    this.armSpareTimer();
  }

  /**
   * The slot for the job at the head of the queue: an idle running thread; else, when none runs,
   * a new one; else a new one only once that job has waited spareAfterMs for the busy ones, all
   * of them ready (a thread still loading the parser is not stuck).
   */
  private freeSlot(): Slot | undefined {
    const idle = this.slots.find((s) => !s.busy && s.worker);
    if (idle) return idle;
    const empty = this.slots.find((s) => !s.busy && !s.worker);
    if (!empty) return undefined;
    const waitedSince = this.spareWaitStart();
    return waitedSince === undefined || performance.now() - waitedSince >= this.spareAfterMs() ? empty : undefined;
  }

  /**
   * Since when the head job has waited for busy, ready threads: undefined when no thread runs
   * (one starts at once), Infinity when there is no job or a thread is still starting (no spare).
   */
  private spareWaitStart(): number | undefined {
    const running = this.slots.filter((s) => s.worker);
    if (running.length === 0) return undefined;
    const head = this.queue[0];
    if (!head || running.some((s) => s.readyAt === null)) return Infinity;
    return Math.max(head.queuedAt, ...running.map((s) => s.readyAt!));
  }

  /** While jobs wait for busy threads and a slot is empty, looks again when the first of them may have a spare. */
  private armSpareTimer(): void {
    if (this.closed || !this.slots.some((s) => !s.busy && !s.worker)) return;
    const since = this.spareWaitStart();
    if (since === undefined || since === Infinity) return;
    this.spareTimer = setTimeout(() => this.pump(), Math.ceil(Math.max(0, since + this.spareAfterMs() - performance.now())));
    this.spareTimer.unref();
  }

  private spareAfterMs(): number {
    return this.opts.spareAfterMs ?? DEFAULT_SPARE_AFTER_MS;
  }

  private armIdleTimer(slot: Slot): void {
    slot.idleTimer = setTimeout(() => void this.retire(slot), this.opts.idleMs ?? DEFAULT_IDLE_MS);
    slot.idleTimer.unref();
  }

  private async run(slot: Slot, job: ParseJob): Promise<ParsedMessage> {
    if (this.closed) return fallback(job, 'parser pool closed');
    const languages = this.languages();
    if (slot.worker && slot.languages !== languagesKey(languages)) void this.retire(slot);
    const worker = (slot.worker ??= this.spawn(slot, languages));
    const id = this.nextId++;
    const size = job.bytes?.byteLength ?? safeSize(job.file);
    const timeoutMs = 60_000 + Math.ceil(size / (1024 * 1024)) * 2_000;
    const outcome = await new Promise<{ result?: ParsedMessage; error?: string; fatal?: string }>((resolve) => {
      const timer = setTimeout(() => resolve({ fatal: `parsing took longer than ${timeoutMs} ms` }), timeoutMs);
      const onMessage = (msg: { id: number; result?: ParsedMessage; error?: string }) => {
        if (msg.id !== id) return;
        done();
        resolve(msg);
      };
      const onError = (err: Error) => {
        done();
        resolve({ fatal: `parser thread crashed: ${err.message}` });
      };
      const onExit = (code: number) => {
        done();
        resolve({ fatal: `parser thread exited with code ${code}` });
      };
      const done = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      // The bytes go as a copy of their own: a Buffer may be a view into a larger pool, all of
      // which the message would otherwise copy.
      worker.postMessage({ id, job: job.bytes ? { ...job, bytes: new Uint8Array(job.bytes) } : job });
    });
    if (outcome.result) return outcome.result;
    if (outcome.fatal) {
      // The thread is dead or stuck: throw it away, the next job gets a fresh one.
      slot.worker = null;
      slot.readyAt = null;
      void worker.terminate();
    }
    const problem = outcome.fatal ?? `parser failed: ${outcome.error}`;
    this.opts.log?.warn({ file: job.file, problem }, 'message could not be parsed; kept raw as unparsed');
    return fallback(job, problem);
  }

  private languages(): readonly string[] | null {
    return this.opts.languages?.() ?? null;
  }

  private spawn(slot: Slot, languages: readonly string[] | null): Worker {
    slot.languages = languagesKey(languages);
    const workerData: ParserThreadData = { languages };
    const worker = new Worker(WORKER_FILE, {
      workerData,
      // A small young generation: the chunks of a large message are short-lived Buffers whose
      // memory V8 frees at the next scavenge, and with the default (tens of MB) a scavenge may not
      // come before V8's external-memory limit (64 MB) forces a full collection. Small, so the
      // thread's RSS grows by a few chunks, not by tens of megabytes, per large message.
      resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb ?? 512, maxYoungGenerationSizeMb: PARSER_YOUNG_GENERATION_MB },
    });
    worker.unref();
    worker.on('error', () => undefined);
    const onReady = (msg: { ready?: boolean }) => {
      if (!msg.ready || slot.worker !== worker) return;
      worker.off('message', onReady);
      slot.readyAt = performance.now();
      // Jobs may have queued behind its start: from now on they may wait for a spare.
      this.pump();
    };
    worker.on('message', onReady);
    return worker;
  }
}

/** A pool whose threads score the languages of the config in force (`getConfig`) at each job. */
export function parserPoolFor(getConfig: () => Pick<Config, 'pools'>, opts: Omit<ParserPoolOptions, 'languages'> = {}): ParserPool {
  return new ParserPool({ ...opts, languages: () => detectedLanguages(getConfig()) });
}

function languagesKey(languages: readonly string[] | null): string {
  return languages ? JSON.stringify(languages) : '*';
}

async function parseInThread(job: ParseJob): Promise<ParsedMessage> {
  try {
    const { parseMessageFile } = await import('./parse-core.js');
    return await parseMessageFile(job);
  } catch (err) {
    return fallback(job, `parser failed: ${(err as Error).message}`);
  }
}

/** The raw-header reading of a message the parser could not handle. */
async function fallback(job: ParseJob, problem: string): Promise<ParsedMessage> {
  const { fingerprintOnly } = await import('./parse-core.js');
  return fingerprintOnly(job, problem);
}

function safeSize(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
