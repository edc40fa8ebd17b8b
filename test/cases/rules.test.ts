// Pure rules of case work: the status machine, times typed in the instance zone, snippet codes,
// the editor template's comment lines.
import { describe, expect, it } from 'vitest';
import { TRANSITIONS, checkTransition } from '../../src/cases/status';
import { parseWhen } from '../../src/cases/when';
import { isCommentLine, stripComments } from '../../src/cases/compose';
import { expandSnippets } from '../../src/cases/snippets';
import { requireConfig } from '../../src/config/load';
import { writeTestConfig } from '../support/config';
import { removeTempDir } from '../support/tmp';

describe('status machine', () => {
  it('follows SPEC §5 and refuses the rest, listing the allowed moves', () => {
    expect(TRANSITIONS.received).toEqual(['in_progress']);
    expect(TRANSITIONS.under_consultation).toEqual(['in_progress']);
    expect(TRANSITIONS.postponed).toEqual(['in_progress']);
    expect(() => checkTransition('X-1', 'received', 'solved')).toThrow('Case X-1 is received and cannot become solved (allowed from received: in_progress).');
    expect(() => checkTransition('X-1', 'in_progress', 'solved')).not.toThrow();
    expect(() => checkTransition('X-1', 'closed', 'in_progress')).not.toThrow();
  });
});

describe('parseWhen', () => {
  it('reads "YYYY-MM-DD HH:MM" as wall-clock time in the instance zone, across DST', () => {
    expect(parseWhen('2026-07-01 09:30', 'Europe/Warsaw').toISOString()).toBe('2026-07-01T07:30:00.000Z');
    expect(parseWhen('2026-01-15 09:30', 'Europe/Warsaw').toISOString()).toBe('2026-01-15T08:30:00.000Z');
    expect(parseWhen('2026-01-15', 'UTC').toISOString()).toBe('2026-01-15T00:00:00.000Z');
  });
  it('takes ISO-8601 with a zone as it is and refuses anything else', () => {
    expect(parseWhen('2026-07-01T09:30:00+02:00', 'UTC').toISOString()).toBe('2026-07-01T07:30:00.000Z');
    expect(() => parseWhen('next tuesday', 'UTC')).toThrow('--remind-at wants a time like');
    expect(() => parseWhen('2026-13-01 10:00', 'UTC')).toThrow('--remind-at wants a time like');
  });
});

describe('editor comments', () => {
  it('drops "# " lines but keeps a snippet code typed at the start of a line', () => {
    expect(isCommentLine('# quoted')).toBe(true);
    expect(isCommentLine('#')).toBe(true);
    expect(isCommentLine('#hello')).toBe(false);
    expect(stripComments('#hello\nText\n# thread\n#\n')).toBe('#hello\nText');
  });
});

describe('snippet codes in a reply', () => {
  async function expand(text: string) {
    const cfg = await writeTestConfig();
    try {
      return expandSnippets(requireConfig(cfg.configPath), text, { language: 'en', poolId: 'general' });
    } finally {
      await removeTempDir(cfg.dir);
    }
  }

  it('expands known codes, any case, in the case language', async () => {
    expect((await expand('#Hello\n#cardblock')).text).toBe('Hello,\nYour card has been blocked.');
  });

  it('leaves ordinary references with a digit untouched: #A1234, #12, #INC-7', async () => {
    const r = await expand('#hello Your reference is #A1234 (ticket #12, see #INC-7).');
    expect(r.text).toBe('Hello, Your reference is #A1234 (ticket #12, see #INC-7).');
    expect(r.uses).toEqual([{ code: 'hello', language: 'en' }]);
  });

  it('writes ##word as #word without expanding it, even when word is a code', async () => {
    expect((await expand('Use ##hello or ##Important here.')).text).toBe('Use #hello or #Important here.');
  });

  it('refuses a mistyped code, saying how to send it as text', async () => {
    await expect(expand('#helo there')).rejects.toThrow('Unknown snippet code #helo; nothing was sent (known: #hello, #cardblock; write ##helo to send #helo as it is).');
  });
});
