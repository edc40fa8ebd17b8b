// The pure pieces of staff mail, without servers: tokens (what they bind, what a change to any of
// it does), the Authentication-Results rule (the trusted id's topmost header only, DMARC or aligned
// DKIM/SPF), and how an answer's text is read (quotes cut, command lines). The attacks through
// real mail are in token-attacks.test.ts and authentication.test.ts.
import { describe, expect, it } from 'vitest';
import { checkAuthenticationResults } from '../../src/ingest/auth-results';
import { answerText, readCommands } from '../../src/cases/staff-mail';
import { findTokenText, issueToken, readToken, tokenIssuedTo, tokenLength, tokenMessageId, tokenSubaddress, type TokenClaims } from '../../src/tokens';

const SECRET = 'unit-test-secret-0123456789-abcdefghijklmnop';
const CODY = { kind: 'consultant', id: 'cody' } as const;
const claims: TokenClaims = { purpose: 'reply', caseId: 'ACME-000042', ref: null, issuedAt: new Date('2026-12-01T10:00:00Z') };

describe('tokens', () => {
  const token = issueToken(SECRET, claims, CODY);

  it('reads back what was issued, and verifies only for the recipient it was issued to', () => {
    const read = readToken(token)!;
    expect(read).toMatchObject({ purpose: 'reply', caseId: 'ACME-000042', ref: null, issuedAt: claims.issuedAt });
    expect(tokenIssuedTo(SECRET, read, CODY)).toBe(true);
    expect(tokenIssuedTo(SECRET, read, { kind: 'consultant', id: 'sam' })).toBe(false);
    expect(tokenIssuedTo(SECRET, read, { kind: 'department', id: 'cody' })).toBe(false);
    expect(tokenIssuedTo('another-secret-0123456789-abcdefghijklmnop', read, CODY)).toBe(false);
  });

  it('fails verification when any one character of it is changed (case, purpose, ref, time or MAC)', () => {
    let changed = 0;
    for (let i = 'mwt1.'.length; i < token.length; i++) {
      if (token[i] === '.') continue;
      const alt = token[i] === 'a' ? 'b' : token[i] === '0' ? '1' : /[0-9]/.test(token[i]!) ? '0' : 'a';
      const forged = token.slice(0, i) + alt + token.slice(i + 1);
      const read = readToken(forged);
      // A damaged token either no longer parses or no longer verifies; it never verifies.
      if (read) expect(tokenIssuedTo(SECRET, read, CODY), forged).toBe(false);
      changed++;
    }
    expect(changed).toBeGreaterThan(30);
  });

  it('a token for one case cannot be turned into one for another case', () => {
    const other = token.replace('acme-000042', 'acme-000043');
    expect(tokenIssuedTo(SECRET, readToken(other)!, CODY)).toBe(false);
  });

  it('rides in a unique Message-ID and in a sub-address, and is found there again', () => {
    const a = tokenMessageId(token, 'bank.example');
    const b = tokenMessageId(token, 'bank.example');
    expect(a).not.toBe(b);
    expect(findTokenText(a)).toBe(token);
    expect(findTokenText(a.toUpperCase())).toBe(token); // an MTA that folds case
    const sub = tokenSubaddress('fraud@bank.example', token)!;
    expect(sub.split('@')[0]!.length).toBeLessThanOrEqual(64);
    expect(findTokenText(sub)).toBe(token);
    expect(tokenSubaddress('a-rather-long-customer-service-box@bank.example', token)).toBeNull();
    expect(token.length).toBeLessThanOrEqual(tokenLength('ACME'));
    expect(findTokenText('<mw.0123456789abcdef0123456789abcdef@bank.example>')).toBeNull();
  });

  it('damaged or truncated token text is not a token', () => {
    expect(readToken(token.slice(0, -1))).toBeNull();
    expect(readToken(token.replace('mwt1.r.', 'mwt1.x.'))).toBeNull();
    expect(readToken('mwt1.')).toBeNull();
  });
});

describe('Authentication-Results', () => {
  const from = 'cody@bank.example';
  const check = (headers: string[]) => checkAuthenticationResults(headers, 'mx.bank.example', from);

  it('passes on dmarc=pass in the topmost header of the trusted id', () => {
    expect(check(['mx.bank.example; spf=pass smtp.mailfrom=bank.example; dkim=pass header.d=bank.example; dmarc=pass header.from=bank.example']).pass).toBe(
      true,
    );
  });

  it('fails on dmarc=fail from the trusted id, whatever else passed', () => {
    const v = check(['mx.bank.example; dkim=pass header.d=bank.example; dmarc=fail (p=reject) header.from=bank.example']);
    expect(v).toMatchObject({ pass: false });
    expect(v.detail).toContain('dmarc=fail');
  });

  it('ignores a forged "pass" from another id, and a trusted-id header below the topmost one', () => {
    expect(check(['evil.example; dmarc=pass header.from=bank.example']).pass).toBe(false);
    expect(check(['mx.bank.example; dmarc=fail header.from=bank.example', 'mx.bank.example; dmarc=pass header.from=bank.example']).pass).toBe(false);
    expect(check([]).detail).toBe('no Authentication-Results header from mx.bank.example');
  });

  it('without a DMARC result, takes a DKIM or SPF pass only for a domain aligned with From', () => {
    expect(check(['mx.bank.example; dkim=pass header.d=mail.bank.example']).pass).toBe(true);
    expect(check(['mx.bank.example; dkim=pass header.d=evil.example']).pass).toBe(false);
    expect(check(['mx.bank.example; spf=pass smtp.mailfrom=bounce@bank.example']).pass).toBe(true);
    expect(check(['mx.bank.example; spf=pass smtp.mailfrom=x@evil.example']).pass).toBe(false);
  });
});

describe('reading an answer', () => {
  it('cuts the quoted mail under the answer', () => {
    const text = 'The card is on its way.\n\nOn Tue, 1 Dec 2026 at 10:00, ACME Cards <cards@bank.example> wrote:\n> Cody,\n> New message from jan\n';
    expect(answerText(text)).toBe('The card is on its way.');
  });

  it('reads #comment, #status and #answer lines at the top, and keeps a snippet code in the text', () => {
    const cmd = readCommands('#status solved\n#answer partner=Visa\n#answer note=called\n#hello\nDone.', 'UTC');
    expect(cmd).toMatchObject({ comment: false, status: 'solved', answers: { partner: 'Visa', note: 'called' }, body: '#hello\nDone.' });
    expect(readCommands('#comment\nCalled the branch.', 'UTC')).toMatchObject({ comment: true, body: 'Called the branch.' });
    const later = readCommands('#status postponed 2030-01-02 09:00\nWe will check.', 'UTC');
    expect(later.remindAt?.toISOString()).toBe('2030-01-02T09:00:00.000Z');
  });

  it('refuses a #status the status machine does not know', () => {
    expect(() => readCommands('#status done\nx', 'UTC')).toThrow(/status/);
  });
});
