// `mailwarden attachment <case> <n> [--output file]`: writes one attachment of a case out (SPEC §5
// "Attachments"), numbered as `show` lists them. An existing file is never overwritten.
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { withApp, type GlobalOptions } from '../app.js';
import { printJson, printLine, writeNewFile } from '../output.js';
import { action } from '../run.js';

interface AttachmentOptions {
  output?: string;
  as?: string;
  json?: boolean;
}

function parseNumber(text: string): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw usageError('EBADNUMBER', `The attachment number is a whole number from 1, not "${text}".`);
  return Number(text);
}

export function register(program: Command): void {
  program
    .command('attachment')
    .description('write attachment <n> of a case (numbered as `show` lists them) to a file, or to standard output with --output -')
    .argument('<case>', 'case ID')
    .argument('<n>', 'the attachment number, from 1')
    .option('-o, --output <file>', 'where to write it (default: its own file name in the current directory; - for standard output)')
    .option('--as <consultant>', 'who reads it (default: $MAILWARDEN_AS)')
    .option('--json', 'print {caseId, n, filename, contentType, size, sha256, messageRowId, output} (not with --output -)')
    .addHelpText('after', '\nExample:\n  mailwarden attachment ACME-000042 1 --output statement.pdf --as anna')
    .action(
      action(async (caseId: string, nText: string, opts: AttachmentOptions) => {
        const { optionalActor } = await import('../../cases/actors.js');
        const { findAttachment, readAttachment, safeFilename } = await import('../../cases/attachment-out.js');
        const { contentStore } = await import('../../db/content-store.js');
        await withApp(program.opts<GlobalOptions>(), async ({ config, db }) => {
          optionalActor(config, opts.as);
          const n = parseNumber(nText);
          if (opts.output === '-' && opts.json) throw usageError('EUSAGE', 'With --output - the attachment itself is the output; leave out --json.');
          const found = await findAttachment(db, caseId, n);
          const bytes = await readAttachment(contentStore(config, db), found);
          if (opts.output === '-') {
            await new Promise<void>((resolve, reject) => process.stdout.write(bytes, (err) => (err ? reject(err) : resolve())));
            return;
          }
          const output = opts.output ?? safeFilename(found.filename, n);
          writeNewFile(output, bytes);
          if (opts.json) return printJson({ ...found, output });
          printLine(`Wrote attachment ${n} of ${found.caseId} (${found.size} bytes) to ${output}.`);
        });
      }),
    );
}
