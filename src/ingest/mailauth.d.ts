// Types for the parts of mailauth (CommonJS, untyped) that src/ingest/auth-results.ts uses: its
// header parser and its DMARC alignment test (organizational domains from the public suffix list).
declare module 'mailauth/lib/parse-dkim-headers.js' {
  export interface AuthResultEntry {
    value: string;
    comment?: string;
    header?: Record<string, string>;
    smtp?: Record<string, string>;
  }
  export interface ParsedAuthResults {
    header: string;
    /** the authserv-id */
    value?: string;
    dkim?: AuthResultEntry[];
    spf?: AuthResultEntry;
    dmarc?: AuthResultEntry;
  }
  export default function parseDkimHeaders(line: string): { parsed: ParsedAuthResults; original: string };
}

declare module 'mailauth/lib/tools.js' {
  export function getAlignment(fromDomain: string, domainList: string[], strict?: boolean): { domain: string } | false;
}
