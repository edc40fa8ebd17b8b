// Errors carry a code (for programs) and a kind (for the exit status), as nodemailer's and
// imapflow's errors carry codes. The CLI prints `message` as one sentence; only --verbose shows
// the stack.

/** Exit statuses follow sysexits(3) so scripts can tell the kinds of failure apart. */
export const EXIT = {
  ok: 0,
  usage: 64, // EX_USAGE: bad arguments, unknown case, refused action
  data: 65, // EX_DATAERR: input that cannot be used (bad file, invalid answer)
  unavailable: 69, // EX_UNAVAILABLE: a server or the database cannot be reached
  software: 70, // EX_SOFTWARE: a bug
  config: 78, // EX_CONFIG: the configuration is invalid
} as const;

export type ErrorKind = 'usage' | 'data' | 'unavailable' | 'config' | 'software';

export class MailwardenError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly details?: string[];

  constructor(kind: ErrorKind, code: string, message: string, details?: string[]) {
    super(message);
    this.name = 'MailwardenError';
    this.kind = kind;
    this.code = code;
    if (details) this.details = details;
  }
}

export function usageError(code: string, message: string, details?: string[]): MailwardenError {
  return new MailwardenError('usage', code, message, details);
}

export function dataError(code: string, message: string, details?: string[]): MailwardenError {
  return new MailwardenError('data', code, message, details);
}

export function unavailableError(code: string, message: string): MailwardenError {
  return new MailwardenError('unavailable', code, message);
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof MailwardenError) return EXIT[err.kind];
  return EXIT.software;
}
