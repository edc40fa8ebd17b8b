// `mailwarden customer <address>`: the customer's record and cases; `--set field=value` edits the
// record, `--export` writes everything held about the customer as one archive, `--erase` removes
// their personal data (SPEC §5 "Customer", §9). The rules are in src/cases/customer-*.ts.
import path from 'node:path';
import type { Command } from 'commander';
import type { EraseResult } from '../../cases/customer-erase.js';
import type { CustomerRecordView } from '../../cases/customer-record.js';
import type { CaseView } from '../../cases/view.js';
import { nowIso } from '../../clock.js';
import { usageError } from '../../errors.js';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

interface CustomerOptions {
  json?: boolean;
  set?: string[];
  as?: string;
  export?: boolean;
  output?: string;
  erase?: boolean;
  force?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  program
    .command('customer')
    .description("a customer's record and cases (newest first); edit the record, export or erase the customer's data")
    .argument('<address>', 'the customer e-mail address')
    .option('--set <field=value>', 'set name, phone, organisation or notes (at most 2000 characters; repeat for several)', collect)
    .option('--export', 'write everything held about the customer as one ZIP archive (JSON, raw .eml, attachments, SHA-256 manifest)')
    .option('--output <file>', 'where --export writes (default: mailwarden-export-<address>-<date>.zip here); never overwritten')
    .option('--erase', "replace the customer's personal data by a pseudonym and delete their raw mail (supervisors only)")
    .option('--force', 'with --set: go ahead although someone changed the record since you last viewed it')
    .option('--as <consultant>', 'who acts (default: $MAILWARDEN_AS); needed for --set, --export and --erase; viewing with it records that you saw the record')
    .option('--json', 'print {customer, cases}; with --set {customer, changed}; with --export {file, files, cases}; with --erase the erasure')
    .addHelpText(
      'after',
      [
        '',
        'Example:',
        '  mailwarden customer jan.kowalski@example.com',
        '  mailwarden customer jan.kowalski@example.com --set name="Jan Kowalski" --set phone="+48 600 100 200" --as anna',
        '  mailwarden customer jan.kowalski@example.com --export --output jan.zip --as anna',
        '  mailwarden customer jan.kowalski@example.com --erase --as maria',
      ].join('\n'),
    )
    .action(
      action(async (address: string, opts: CustomerOptions) => {
        const { optionalActor, resolveActor } = await import('../../cases/actors.js');
        const { eraseCustomer } = await import('../../cases/customer-erase.js');
        const { buildExport } = await import('../../cases/customer-export.js');
        const { recordCustomerView } = await import('../../cases/collision.js');
        const { customerKey, getCustomerRecord, parseCustomerSets, setCustomerFields } = await import('../../cases/customer-record.js');
        const { writeExportArchive } = await import('../../cases/export-archive.js');
        const { customerCases } = await import('../../cases/queries.js');
        const { writeTx } = await import('../../db/connection.js');
        const modes = [opts.set !== undefined, opts.export === true, opts.erase === true].filter(Boolean).length;
        if (modes > 1) throw usageError('EUSAGE', 'Give only one of --set, --export and --erase at a time.');
        if (opts.output !== undefined && !opts.export) throw usageError('EUSAGE', '--output belongs to --export.');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          if (opts.set !== undefined) {
            const actor = resolveActor(config, opts.as);
            const fields = parseCustomerSets(opts.set);
            const result = await writeTx(db, (tx) => setCustomerFields(tx, config, actor, address, fields, { force: opts.force === true }));
            if (opts.json) return printJson({ customer: result.record, changed: result.changed });
            return printLine(
              result.changed.length
                ? `Customer ${result.record.address}: ${result.changed.join(', ')} changed.`
                : `Customer ${result.record.address}: nothing changed.`,
            );
          }
          if (opts.export) {
            const actor = resolveActor(config, opts.as);
            const content = await buildExport(db, config, actor, address);
            const file = path.resolve(opts.output ?? defaultExportName(content.document.customer.address));
            const written = await writeExportArchive(db, content, file);
            const summary = {
              file: written.file,
              files: written.entries.length + 1,
              cases: content.document.cases.length,
              missing: content.document.missing_files,
            };
            if (opts.json) return printJson(summary);
            printLine(
              `Exported ${summary.cases} case(s) of ${content.document.customer.address} in ${summary.files} file(s) to ${summary.file} (MANIFEST.sha256 inside).`,
            );
            if (summary.missing.length)
              printLine(`${summary.missing.length} file(s) named in the database are no longer on disk: ${summary.missing.join(', ')}.`);
            return;
          }
          if (opts.erase) {
            const actor = resolveActor(config, opts.as);
            const result = await eraseCustomer(db, config, actor, address);
            if (opts.json) return printJson(result);
            return printLine(erasureSentence(customerKey(address), result));
          }
          const customer = await getCustomerRecord(db, address);
          const viewer = optionalActor(config, opts.as);
          if (viewer) await recordCustomerView(db, customer.address, viewer.id);
          const cases = await customerCases(db, address);
          if (opts.json) return printJson({ customer, cases });
          await printShow(customer, cases, address, config.instance.timezone);
        });
      }),
    );
}

async function printShow(customer: CustomerRecordView, cases: CaseView[], address: string, tz: string): Promise<void> {
  const { formatCaseTable, localTime } = await import('../case-format.js');
  if (customer.recorded) {
    printLine(`Customer:      ${customer.address}${customer.name ? `  (${customer.name})` : ''}`);
    if (customer.phone) printLine(`Phone:         ${customer.phone}`);
    if (customer.organisation) printLine(`Organisation:  ${customer.organisation}`);
    if (customer.notes) printLine(`Notes:         ${customer.notes.replace(/\n/g, '\n               ')}`);
    printLine(`Updated:       ${localTime(customer.updated_at, tz)} by ${customer.updated_by ?? '-'}`);
    printLine();
  }
  if (cases.length === 0) return printLine(`No cases from ${address}.`);
  printLine(`${cases.length} case(s) from ${address}, newest first:`);
  printLine(formatCaseTable(cases, tz));
}

function defaultExportName(address: string): string {
  const safe = address.replace('@', '_at_').replace(/[^a-z0-9._-]+/gi, '_');
  return `mailwarden-export-${safe}-${nowIso().slice(0, 10)}.zip`;
}

function erasureSentence(address: string, r: EraseResult): string {
  if (!r.erased) return `Nothing is held about ${address}; nothing was erased.`;
  const copied = r.copiedCases ? ` and ${r.copiedCases} case(s) of others it was copied on` : '';
  const shared = r.filesShared ? ` (${r.filesShared} kept: the same content is in someone else's mail)` : '';
  return `Erased the personal data of ${address} as ${r.pseudonym}: ${r.cases} case(s)${copied}, ${r.messages} message(s), ${r.filesDeleted} file(s) deleted${shared}.`;
}
