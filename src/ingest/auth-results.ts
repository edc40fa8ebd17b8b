// Whether the operator's own MTA vouches for a staff mail's sender (SPEC §5A,
// `ingest.authentication_results`). Only the topmost Authentication-Results header written under
// the configured authserv-id counts: anyone can write such a header before the mail reaches that
// MTA, but it adds its own above them, and headers naming any other id say nothing (RFC 8601 §5).
// The header is read with mailauth's parser and alignment with its organizational-domain test
// (public suffix list), not by hand: both are subtle and well kept there.
import { createRequire } from 'node:module';
import parseAuthHeader, { type ParsedAuthResults } from 'mailauth/lib/parse-dkim-headers.js';

// mailauth's tools module brings joi, tldts and its DNS code (about 20 MB of heap) into every
// daemon; only a staff mail checked for alignment needs it, so it is required then, once.
const requireCjs = createRequire(import.meta.url);
let tools: typeof import('mailauth/lib/tools.js') | undefined;
const getAlignment: (typeof import('mailauth/lib/tools.js'))['getAlignment'] = (from, list) =>
  (tools ??= requireCjs('mailauth/lib/tools.js') as typeof import('mailauth/lib/tools.js')).getAlignment(from, list);

export interface AuthVerdict {
  pass: boolean;
  /** what was found, for the quarantine row and the log */
  detail: string;
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

function aligned(fromDomain: string, domain: string | undefined): boolean {
  return domain !== undefined && domain !== '' && getAlignment(fromDomain, [domainOf(domain)]) !== false;
}

function summary(id: string, r: ParsedAuthResults): string {
  const dkim = (r.dkim ?? []).map((d) => `${d.value}${d.header?.d ? ` (d=${d.header.d})` : ''}`).join(', ') || 'none';
  return `Authentication-Results from ${id}: dmarc=${r.dmarc?.value ?? 'none'}, dkim=${dkim}, spf=${r.spf?.value ?? 'none'}`;
}

/**
 * DMARC pass for the From domain; where the MTA gave no DMARC result, a DKIM or SPF pass for a
 * domain aligned with it. An explicit DMARC result other than pass is a failure whatever else passed.
 */
function passes(r: ParsedAuthResults, fromDomain: string): boolean {
  if (r.dmarc) return r.dmarc.value.toLowerCase() === 'pass' && (r.dmarc.header?.from === undefined || aligned(fromDomain, r.dmarc.header.from));
  if ((r.dkim ?? []).some((d) => d.value.toLowerCase() === 'pass' && aligned(fromDomain, d.header?.d))) return true;
  return r.spf?.value.toLowerCase() === 'pass' && aligned(fromDomain, r.spf.smtp?.mailfrom ?? r.spf.smtp?.helo);
}

export function checkAuthenticationResults(headers: string[], authservId: string, fromAddress: string): AuthVerdict {
  const trusted = authservId.toLowerCase();
  for (const value of headers) {
    const parsed = parseAuthHeader(`Authentication-Results: ${value}`).parsed;
    const id = (parsed.value ?? '').toLowerCase();
    if (id !== trusted) continue;
    return { pass: passes(parsed, domainOf(fromAddress)), detail: summary(authservId, parsed) };
  }
  return { pass: false, detail: `no Authentication-Results header from ${authservId}` };
}
