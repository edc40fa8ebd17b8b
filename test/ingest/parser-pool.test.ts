// The parser pool holds threads only while there is mail to parse (issue 18: each parser thread is
// a V8 heap of its own, tens of MB, and an idle daemon should not carry them). Proven by structure:
// no thread before the first message, one started by it, none after the pool retires its idle
// threads (what each thread's idle timer does), and a message after that still parsed in a new
// thread. A second thread starts only for a job that waited `spareAfterMs` for the first.
// The compiled pool is used (dist/): only there does the thread's entry file exist.
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli';
import { buildMail } from '../support/imap';
import { makeTempDir, removeTempDir } from '../support/tmp';

const LIMITS = { maxMessageSize: 10 * 1024 * 1024, maxParts: 100, maxHeaderBytes: 64 * 1024 };

describe('the parser pool', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await makeTempDir('mailwarden-parser-pool-');
  });
  afterAll(async () => {
    await removeTempDir(dir);
  });

  async function job(name: string, subject: string) {
    const file = path.join(dir, `${name}.eml`);
    await fs.writeFile(file, buildMail({ from: 'jan@customer.test', to: 'help@example.test', subject, text: `Hello, this is ${name}.` }));
    return { file, dataDir: dir, limits: LIMITS };
  }

  it('starts a thread on the first message, not before; retired when idle it is back to none, and the next message starts one and is parsed (fails if threads start eagerly or an idle pool cannot parse)', async () => {
    const { ParserPool } = await import(path.join(REPO_ROOT, 'dist', 'ingest/parse.js'));
    // A long idle time: only retireIdle() ends the thread in this test, never the clock.
    const pool = new ParserPool({ size: 2, idleMs: 600_000 });
    try {
      expect(pool.threads).toBe(0);
      const first = await pool.parse(await job('first', 'First question'));
      expect(first.subject).toBe('First question');
      expect(first.flags).not.toContain('unparsed');
      // One message at a time needs one thread, whatever the pool's size.
      expect(pool.threads).toBe(1);

      await pool.retireIdle();
      expect(pool.threads).toBe(0);

      const second = await pool.parse(await job('second', 'Second question'));
      expect(second.subject).toBe('Second question');
      expect(second.flags).not.toContain('unparsed');
      expect(pool.threads).toBe(1);
    } finally {
      await pool.close();
    }
    expect(pool.threads).toBe(0);
  });

  it('keeps the thread of a job in progress when idle threads are retired (fails if retiring ends a busy thread and its message falls back to unparsed)', async () => {
    const { ParserPool } = await import(path.join(REPO_ROOT, 'dist', 'ingest/parse.js'));
    const pool = new ParserPool({ size: 1, idleMs: 600_000 });
    try {
      const pending = pool.parse(await job('busy', 'Busy question'));
      // The job is on its thread now (parse() hands it over synchronously); retire what is idle.
      await pool.retireIdle();
      const parsed = await pending;
      expect(parsed.subject).toBe('Busy question');
      expect(parsed.flags).not.toContain('unparsed');
      expect(pool.threads).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('parses many messages at once in one thread while none waits spareAfterMs, and starts the second for jobs that did (fails if every slot starts a thread at once, or a waiting job never gets the spare)', async () => {
    const { ParserPool } = await import(path.join(REPO_ROOT, 'dist', 'ingest/parse.js'));
    const jobs = await Promise.all(Array.from({ length: 12 }, (_, i) => job(`many-${i}`, `Question ${i}`)));
    const parseAll = async (pool: { parse(j: unknown): Promise<{ subject: string | null; flags: string[] }> }) => {
      const parsed = await Promise.all(jobs.map((j) => pool.parse(j)));
      expect(parsed.map((p) => p.subject)).toEqual(jobs.map((_, i) => `Question ${i}`));
      for (const p of parsed) expect(p.flags).not.toContain('unparsed');
    };

    // Twelve jobs queue behind the first thread's start-up and each other, but none waits ten minutes.
    const patient = new ParserPool({ size: 2, idleMs: 600_000, spareAfterMs: 600_000 });
    try {
      await parseAll(patient);
      expect(patient.threads).toBe(1);
    } finally {
      await patient.close();
    }

    // Without patience: once the first thread has loaded the parser, the jobs still queued behind
    // the one it parses get the second thread.
    const eager = new ParserPool({ size: 2, idleMs: 600_000, spareAfterMs: 0 });
    try {
      await parseAll(eager);
      expect(eager.threads).toBe(2);
    } finally {
      await eager.close();
    }
  });
});
