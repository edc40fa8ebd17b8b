// Pure rules of case work: the status machine, times typed in the instance zone, snippet codes,
// the editor template's comment lines.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/cli';
import { TRANSITIONS, checkTransition } from '../../src/cases/status';
import { parseWhen } from '../../src/cases/when';
import { formatInZone } from '../../src/time-format';
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

describe('one status machine', () => {
  it('is the only writer of a case status: no other module passes a status to changeCase or an UPDATE', () => {
    const srcDir = path.join(REPO_ROOT, 'src');
    const files = fs.readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(50);
    const writers = files.filter((f) => {
      if (f === path.join('cases', 'status.ts')) return false;
      const text = fs.readFileSync(path.join(srcDir, f), 'utf8');
      return /changeCase\([^;]*\bstatus:/.test(text) || /updateTable\('cases'\)[^;]*\bstatus\b/.test(text);
    });
    expect(writers).toEqual([]);
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
    expect(() => parseWhen('next tuesday', 'UTC')).toThrow('The reminder wants a time like');
    expect(() => parseWhen('2026-13-01 10:00', 'UTC')).toThrow('The reminder wants a time like');
  });
  it('names no CLI flag unless its caller gives one', () => {
    expect(() => parseWhen('soon', 'UTC')).toThrow(/^The reminder wants a time like "2026-03-01 09:30" \(UTC\) or ISO-8601 with a zone, not "soon"\.$/);
    expect(() => parseWhen('soon', 'UTC', '--remind-at')).toThrow(/^--remind-at wants a time like /);
  });
});

describe('wall-clock time around the DST changes (Europe/Warsaw, last Sundays of March and October 2026)', () => {
  const at = (text: string) => parseWhen(text, 'Europe/Warsaw').toISOString();
  const shown = (iso: string) => formatInZone(new Date(iso), 'Europe/Warsaw', true);

  it('in spring, reads times on both sides of the skipped hour and moves a skipped time forward by the gap', () => {
    expect(at('2026-03-29 01:59')).toBe('2026-03-29T00:59:00.000Z');
    expect(at('2026-03-29 03:00')).toBe('2026-03-29T01:00:00.000Z');
    expect(at('2026-03-29 02:30')).toBe('2026-03-29T01:30:00.000Z');
    expect(shown(at('2026-03-29 02:30'))).toBe('2026-03-29 03:30 CEST');
    expect(at('2026-03-29')).toBe('2026-03-28T23:00:00.000Z');
    expect(at('2026-03-30')).toBe('2026-03-29T22:00:00.000Z');
  });
  it('in autumn, takes a repeated time as its second (standard-time) occurrence', () => {
    expect(at('2026-10-25 01:30')).toBe('2026-10-24T23:30:00.000Z');
    expect(at('2026-10-25 02:30')).toBe('2026-10-25T01:30:00.000Z');
    expect(at('2026-10-25 03:00')).toBe('2026-10-25T02:00:00.000Z');
  });
  it('shows instants with the offset and zone name in force at that instant', () => {
    expect(shown('2026-03-29T00:59:00Z')).toBe('2026-03-29 01:59 CET');
    expect(shown('2026-03-29T01:00:00Z')).toBe('2026-03-29 03:00 CEST');
    expect(shown('2026-10-25T00:30:00Z')).toBe('2026-10-25 02:30 CEST');
    expect(shown('2026-10-25T01:30:00Z')).toBe('2026-10-25 02:30 CET');
    expect(formatInZone(new Date('2026-10-25T01:30:00Z'), 'Europe/Warsaw', false)).toBe('2026-10-25 02:30');
    expect(formatInZone(new Date('2026-10-25T01:30:00Z'), 'UTC', true)).toBe('2026-10-25 01:30 UTC');
  });
  it('refuses a date that does not exist rather than rolling it over, and names an unknown zone', () => {
    expect(() => parseWhen('2026-02-30 10:00', 'Europe/Warsaw')).toThrow('The reminder wants a time like');
    expect(() => parseWhen('2026-02-28 10:00', 'Europe/Warsw')).toThrow('instance.timezone: "Europe/Warsw" is not an IANA time zone');
    expect(() => formatInZone(new Date(), 'Europe/Warsw', false)).toThrow('instance.timezone: "Europe/Warsw" is not an IANA time zone');
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
    await expect(expand('#helo there')).rejects.toThrow(
      'Unknown snippet code #helo; nothing was sent (known: #hello, #cardblock; write ##helo to send #helo as it is).',
    );
  });
});
