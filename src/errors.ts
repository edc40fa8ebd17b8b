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
  ioerr: 74, // EX_IOERR: the output could not be written (its reader went away)
  tempfail: 75, // EX_TEMPFAIL: the database is locked by another process or the disk is full; try again
  config: 78, // EX_CONFIG: the configuration is invalid
} as const;

export type ErrorKind = 'usage' | 'data' | 'unavailable' | 'tempfail' | 'config' | 'software' | 'ioerr';

/**
 * Every error code mailwarden gives, with one line of meaning (as nodemailer's errors module
 * lists its codes). The codes are stable: scripts match them in `--json` errors; the messages may
 * be reworded. A code not listed here does not compile.
 */
export const ERROR_CODES = {
  EUSAGE: 'the command line is incomplete or contradictory',
  ENOACTOR: 'no consultant was named (--as or MAILWARDEN_AS)',
  EUNKNOWNCONSULTANT: 'the consultant named is not in the configuration',
  EUNKNOWNPOOL: 'the pool named is not in the configuration',
  ENOMAILBOX: 'the case, address or id names no supervised mailbox (or one without IMAP)',
  EFORBIDDEN: "the consultant's role does not allow this action on this case",
  ENOCASE: 'no case has that id',
  EBADTRANSITION: 'the status machine does not allow that move (SPEC §5)',
  EBADSTATUS: 'a reply cannot set that status',
  ENOREMIND: 'postponing a case needs the time it comes back',
  EBADREMIND: 'a reminder time was given without postponing the case',
  EBADTIME: 'a time that cannot be read, or one in the past',
  EBADSINCE: 'a start of a period (cases --since) that is neither a date YYYY-MM-DD nor a full ISO timestamp',
  EBADZONE: 'instance.timezone is not an IANA time zone',
  ECALENDAR: 'a deadline names a calendar that does not exist, or one with no working time within a year',
  EBADANSWER: 'a questionnaire answer that is not key=value',
  EQUESTIONNAIRE: "the pool's questionnaire is not answered correctly",
  ENOQUESTIONNAIRE: 'answers were given for a pool without a questionnaire',
  EUNKNOWNSNIPPET: 'the text names a snippet code that does not exist',
  EEMPTY: 'a reply or comment without text',
  ETWOTEXTS: 'the text was given in two ways at once',
  EREADFILE: 'a file named on the command line cannot be read',
  EATTACH: 'an attachment cannot be read or is too large',
  EEDITOR: 'the editor failed or was left without saving',
  ENOEDITOR: 'no editor is set ($VISUAL or $EDITOR) and no text was given',
  EFOOTER: "the consultant's footer image cannot be read",
  EBADLABEL: 'a label that is empty, too long or has control characters',
  ENOLABELS: 'no label change was named',
  EBADPRIORITY: 'a priority other than low, normal, high, urgent',
  EBADNUMBER: 'a number option that is not a positive whole number',
  EBADLIMIT: 'a limit outside the allowed range',
  EBADDATE: 'a date that is not YYYY-MM-DD or does not exist',
  EBADPERIOD: 'a report period that ends before it begins, or is longer than ten years',
  EBADFORMAT: 'an output format that does not exist (report: table, csv, json, html)',
  EBADGROUPING: 'a report grouping that does not exist (consultant, pool)',
  EBADSTATE: 'an outbox state that does not exist',
  EBADKIND: 'an outbox kind that does not exist',
  ENOOUTBOX: 'no outbox row has that id',
  ENOTFAILED: 'only a failed outbox row can be retried',
  EBADADDRESS: 'an e-mail address that cannot be used',
  ENOTEMPLATE: 'a mail template is missing',
  EBADTEMPLATE: 'a mail template does not compile or render',
  EINVALIDCONFIG: 'the configuration file is invalid (every problem is listed)',
  EDBOPEN: 'the database cannot be opened',
  EMIGRATE: 'a database migration failed',
  EMIGRATESTORE:
    'migrate-store cannot move this installation (already on PostgreSQL, another schema version, a damaged file) or its copy did not match the original and was undone',
  ETARGETNOTEMPTY: 'the database migrate-store was told to copy into already holds rows; it never overwrites',
  EBUSY: 'the database is locked by another process or the disk is full; try again',
  ELOCKED: 'another daemon already runs on this data dir',
  ECONFLICT: 'another writer changed the same case or row at the same moment; nothing was changed',
  EDEMODIR: 'the demo directory exists and was not made by the demo',
  EINITEXISTS: 'init would overwrite existing files',
  ETIMEDOUT: 'a server or process did not answer in time',
  ESECRET: 'a secret (${NAME} or ${file:/path}) cannot be resolved now, or a login field is missing',
  ETOKEN: 'the OAuth2 token endpoint refused to issue an access token, or cannot be reached',
  ELOGIN: 'the IMAP or SMTP server refused the login',
  ECONNECT: 'the IMAP or SMTP server cannot be reached',
  EFOLDER: 'the IMAP folder a mailbox watches cannot be opened',
  EDAEMON: 'the daemon exited before it was ready',
  EPIPE: 'the output was closed before everything was written (a pager or `head` quit early)',
  EACCEPT: 'accepting an incoming message failed for a reason that is not transient; it is tried again, then parked',
  ENOSUPERVISOR: 'nobody has the supervisor role, so a trainee reply cannot be approved',
  ENOAPPROVAL: 'no approval has that id',
  ENOREASON: 'a rejection needs a reason for the trainee',
  EDECIDED: 'the approval was already decided; a second decision is refused',
  EHELDCHANGED: 'the held reply is no longer the draft that was sent for approval',
  ENOQUARANTINE: 'no quarantined mail has that id',
  ENORELEASE: 'that quarantined mail may not be released (a bad signature, failed authentication…) or was already released or dropped',
  ESTAFFMAIL: 'a staff mail (an answer from a mail client) asked for something that cannot be done',
  EUNKNOWNDEPT: 'no department has that id',
  ENODEPT: 'a consultation needs the department to ask (--dept)',
  ECONSULTOPEN: 'the case already waits for that department',
  ENOCONSULT: 'the case has no open consultation with that department',
  EABSENT: 'the consultant is absent (mailwarden absences) and gets no cases until the absence ends',
  EBADREPLACEMENT: 'the replacement named for an absence is the absent consultant or is absent too',
  ENOABSENCE: 'the consultant is not absent, so there is no absence to clear',
  EBADFIELD: 'a customer record field that does not exist (name, phone, organisation, notes) or has no value',
  ETOOLONG: 'a text longer than its field allows (2000 characters for a customer field, a case title or description)',
  EOUTPUTEXISTS: 'the output file (an export, an attachment) exists already; it is never overwritten',
  ESENDING: 'mail to the customer is being sent at this moment; the erasure waits for it',
  ENOCHANGE: 'an edit that names nothing to change',
  ENOATTACHMENT: 'the case has no attachment with that number',
  EBLOB: "an attachment's stored content is missing or does not match its SHA-256",
  ESTORED: 'raw mail or an attachment kept in the database (storage.files: database) came back incomplete',
  ESTOREDIR: 'the directories raw mail and attachments are kept in cannot be made (instance.data_dir or storage.directory)',
  EWRITEFILE: 'a file cannot be written',
  ECOLLISION: 'the case changed since this consultant last viewed it (SPEC §5 collision warning); --force goes ahead',
  EMERGE: 'a merge that cannot be done: a case into itself, or into or from a case already merged',
  EINTERNAL: 'an unexpected error: a bug; --verbose shows the stack',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class MailwardenError extends Error {
  readonly code: ErrorCode;
  readonly kind: ErrorKind;
  readonly details?: string[];

  constructor(kind: ErrorKind, code: ErrorCode, message: string, details?: string[]) {
    super(message);
    this.name = 'MailwardenError';
    this.kind = kind;
    this.code = code;
    if (details) this.details = details;
  }
}

export function usageError(code: ErrorCode, message: string, details?: string[]): MailwardenError {
  return new MailwardenError('usage', code, message, details);
}

export function dataError(code: ErrorCode, message: string, details?: string[]): MailwardenError {
  return new MailwardenError('data', code, message, details);
}

export function unavailableError(code: ErrorCode, message: string): MailwardenError {
  return new MailwardenError('unavailable', code, message);
}

export function tempfailError(code: ErrorCode, message: string): MailwardenError {
  return new MailwardenError('tempfail', code, message);
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof MailwardenError) return EXIT[err.kind];
  return EXIT.software;
}
