// `mailwarden reply <case> --as <c>`: answer the customer; text from --message, --file or $EDITOR.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { dataError, usageError } from '../../errors.js';
import { withApp, type GlobalOptions, type App } from '../app.js';
import { printJson, printLine } from '../output.js';
import { action } from '../run.js';

interface ReplyOptions {
  as?: string;
  message?: string;
  file?: string;
  attach: string[];
  status?: string;
  remindAt?: string;
  answer: string[];
  force?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function register(program: Command): void {
  program
    .command('reply')
    .description('reply to the customer of a case (text from --message, --file or $EDITOR), optionally changing its status')
    .argument('<case>', 'case ID')
    .option('--as <consultant>', 'who replies (default: $MAILWARDEN_AS)')
    .option('-m, --message <text>', 'the reply text; #code expands a snippet')
    .option('--file <path>', 'read the reply text from a file (- for standard input)')
    .option('--attach <path>', 'attach a file (repeatable)', collect, [])
    .option('--status <status>', 'then set the status: in_progress, postponed, solved or closed')
    .option('--remind-at <time>', 'with --status postponed: when the case comes back ("YYYY-MM-DD HH:MM" in the instance time zone, or ISO-8601)')
    .option('--answer <key=value>', 'questionnaire answer, required when closing in a pool with a questionnaire (repeatable)', collect, [])
    .option('--force', 'reply although the case changed since you last viewed it')
    .option('--json', 'print {caseId, outboxId, messageId, messageRowId, state, status, snippets, approvalId, approver}')
    .addHelpText(
      'after',
      '\nExample:\n  mailwarden reply ACME-000042 --as anna -m "#hello #cardblock" --status solved --answer partner=Visa --answer topic="blocked card"',
    )
    .action(
      action(async (caseId: string, opts: ReplyOptions) => {
        const { resolveActor } = await import('../../cases/actors.js');
        const { checkAttachments, keepAttachments } = await import('../../cases/attachments.js');
        const { parseAnswers } = await import('../../cases/questionnaire.js');
        const { checkReplyStatus, replyToCase } = await import('../../cases/reply.js');
        const { parseWhen } = await import('../../cases/when.js');
        const { writeTx } = await import('../../db/connection.js');
        const { contentStore } = await import('../../db/content-store.js');
        await withApp(program.opts<GlobalOptions>(), async (app) => {
          const { config, db } = app;
          const actor = resolveActor(config, opts.as);
          const attachments = checkAttachments(opts.attach);
          await keepAttachments(contentStore(config, db), attachments);
          const status = opts.status ? checkReplyStatus(opts.status) : undefined;
          const remindAt = opts.remindAt ? parseWhen(opts.remindAt, config.instance.timezone, '--remind-at') : undefined;
          const answers = parseAnswers(opts.answer);
          const text = await replyText(app, caseId, actor.id, opts);
          const result = await writeTx(db, (tx) =>
            replyToCase(tx, config, actor, {
              caseId,
              text,
              attachments,
              ...(status ? { status } : {}),
              ...(remindAt ? { remindAt } : {}),
              answers,
              force: opts.force === true,
            }),
          );
          if (opts.json) return printJson(result);
          if (result.state === 'held') {
            printLine(`Reply on ${result.caseId} is held for approval by ${result.approver ?? 'a supervisor'}; nothing reaches the customer before that.`);
          } else {
            printLine(`Reply on ${result.caseId} queued for the customer (Message-ID ${result.messageId}).`);
          }
          printLine(`Case ${result.caseId} is ${result.status}.`);
        });
      }),
    );
}

async function replyText(app: App, caseId: string, actorId: string, opts: ReplyOptions): Promise<string> {
  if (opts.message !== undefined && opts.file !== undefined) throw usageError('ETWOTEXTS', 'Give the reply with --message or --file, not both.');
  if (opts.message !== undefined) return opts.message;
  if (opts.file !== undefined) {
    try {
      return fs.readFileSync(opts.file === '-' ? 0 : opts.file, 'utf8');
    } catch (err) {
      throw dataError('EREADFILE', `Cannot read the reply from ${opts.file}: ${(err as Error).message}.`);
    }
  }
  const { getCaseDetail } = await import('../../cases/queries.js');
  const { snippetLeaves } = await import('../../cases/snippets.js');
  const { editorTemplate, stripComments } = await import('../../cases/compose.js');
  const detail = await getCaseDetail(app.db, caseId, { viewer: actorId });
  const codes = snippetLeaves(app.config.snippets).map((s) => s.code);
  const text = stripComments(editReply(editorTemplate(detail, { snippetCodes: codes })));
  if (!text) throw usageError('EEMPTY', 'Aborting the reply: the message is empty.');
  return text;
}

/**
 * Opens $VISUAL/$EDITOR on a temp file holding the template, as git does; returns what was saved.
 * child_process is loaded here, not with the command line: it brings net and dgram, a few
 * milliseconds of every command's start (issue 18). Required, not import()ed: code V8 kept
 * (src/cli/code-cache.ts) cannot import() on Node 20.
 */
function editReply(template: string): string {
  const { spawnSync } = createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  const editor = process.env.VISUAL || process.env.EDITOR;
  if (!editor) throw usageError('ENOEDITOR', 'Give the reply with --message or --file, or set $EDITOR to write it in an editor.');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mailwarden-reply-'));
  const file = path.join(dir, 'REPLY_EDITMSG');
  try {
    fs.writeFileSync(file, template, { mode: 0o600 });
    const run = spawnSync('/bin/sh', ['-c', `${editor} "$@"`, editor, file], { stdio: 'inherit' });
    if (run.error || run.status !== 0) {
      throw usageError('EEDITOR', `The editor (${editor}) failed${run.status !== null ? ` with status ${run.status}` : ''}; nothing was sent.`);
    }
    return fs.readFileSync(file, 'utf8');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
