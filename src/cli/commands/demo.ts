// `mailwarden demo`: run the whole product locally and say what happened.
import path from 'node:path';
import type { Command } from 'commander';
import type { DemoAccount } from '../../setup/demo.js';
import { paint, printJson, printLine } from '../output.js';
import { action } from '../run.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('run mailwarden locally with no outside server: deliver sample mail, open cases, write auto-responses')
    .option('--dir <dir>', 'where the demo config, data and outbox go (replaced on each run)', 'demo')
    .option('--once', 'process the sample mail, print the account and exit (for scripts and tests)')
    .option('--json', 'print the account as JSON')
    .addHelpText('after', '\nExample:\n  mailwarden demo --once && export MAILWARDEN_CONFIG=$PWD/demo/mailwarden.yaml && mailwarden next --as anna')
    .action(
      action(async (opts: { dir: string; once?: boolean; json?: boolean }) => {
        const { startDemo } = await import('../../setup/demo.js');
        const demo = await startDemo({ dir: opts.dir });
        if (opts.json) printJson(demo.account);
        else printAccount(demo.account, Boolean(opts.once));
        if (opts.once) {
          await demo.stop();
          return;
        }
        await new Promise<void>((resolve) => {
          const finish = () => void demo.stop().then(resolve);
          process.once('SIGINT', finish);
          process.once('SIGTERM', finish);
          demo.daemon.once('exit', () => resolve());
        });
      }),
    );
}

function printAccount(a: DemoAccount, once: boolean): void {
  const rel = (p: string) => path.relative(process.cwd(), p) || '.';
  printLine(paint('bold', 'mailwarden demo'));
  printLine(`Config ${rel(a.configPath)}, data ${rel(a.dataDir)}, daemon log ${rel(a.logPath)}.`);
  printLine(`The daemon listens for LMTP on ${a.listener} and writes outgoing mail to ${rel(a.outboxDir)}/.`);
  printLine('');
  printLine(`Delivered ${a.delivered.length} customer mails:`);
  for (const d of a.delivered) printLine(`  ${(d.caseId ?? '-').padEnd(12)} ${d.from.padEnd(26)} ${d.about}`);
  printLine('');
  printLine(`Cases opened: ${a.cases.length}`);
  for (const c of a.cases) {
    printLine(
      `  ${c.id}  ${c.pool.padEnd(5)} ${(c.language ?? '-').padEnd(2)} ${c.priority.padEnd(6)} ${String(c.messages).padStart(2)} msg  ${c.customer}  "${c.subject}"`,
    );
  }
  printLine('');
  printLine(`Auto-responses written: ${a.autoResponses.length}`);
  for (const r of a.autoResponses) printLine(`  ${r.caseId}  to ${r.to}: ${rel(r.file)}`);
  for (const s of a.suppressed) printLine(`  ${s.caseId}  none: ${s.reason}`);
  printLine('');
  printLine('Try next:');
  printLine(`  export MAILWARDEN_CONFIG=${a.configPath}`);
  printLine('  ./bin/mailwarden cases');
  printLine('  ./bin/mailwarden next --as anna');
  printLine(`  ./bin/mailwarden show ${a.cases[0]?.id ?? 'ACME-000001'} --as anna`);
  printLine(
    `  ./bin/mailwarden reply ${a.cases[0]?.id ?? 'ACME-000001'} --as anna --message "#hello Karta jest odblokowana." --status solved --answer partner=Visa`,
  );
  printLine(`  ./bin/mailwarden customer jan.kowalski@example.pl`);
  if (!once) printLine(paint('grey', '\nThe daemon keeps running (Ctrl-C stops it); deliver more mail by LMTP to ' + a.listener + '.'));
}
