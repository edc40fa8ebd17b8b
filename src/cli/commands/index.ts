// Every command file, in the order `--help` lists them. Registering a command (its options and
// help) must stay cheap: a command file imports only cheap modules at the top (commander,
// ../app, ../output, ../run, the error registry, leaf modules such as clock.ts), and its action
// `await import()`s what does the work, so `--help` or one command never loads every command's
// dependencies (kysely, imapflow, echarts…).
import type { Command } from 'commander';
import { register as config } from './config.js';
import { register as auth } from './auth.js';
import { register as init } from './init.js';
import { register as demo } from './demo.js';
import { register as cases } from './cases.js';
import { register as pools } from './pools.js';
import { register as report } from './report.js';
import { register as show } from './show.js';
import { register as next } from './next.js';
import { register as reply } from './reply.js';
import { register as status } from './status.js';
import { register as open } from './open.js';
import { register as edit } from './edit.js';
import { register as attachment } from './attachment.js';
import { register as consult } from './consult.js';
import { register as comment } from './comment.js';
import { register as assign } from './assign.js';
import { register as priority } from './priority.js';
import { register as label } from './label.js';
import { register as merge } from './merge.js';
import { register as customer } from './customer.js';
import { register as snippets } from './snippets.js';
import { register as outbox } from './outbox.js';
import { register as run } from './run.js';
import { register as reprocess } from './reprocess.js';
import { register as parked } from './parked.js';
import { register as approvals } from './approvals.js';
import { register as absence } from './absence.js';
import { register as quarantine } from './quarantine.js';
import { register as deliver } from './deliver.js';
import { register as migrateStore } from './migrate-store.js';

export const COMMANDS: Array<(program: Command) => void> = [
  demo,
  init,
  config,
  auth,
  cases,
  pools,
  report,
  show,
  next,
  reply,
  status,
  open,
  consult,
  approvals,
  absence,
  comment,
  assign,
  priority,
  label,
  edit,
  attachment,
  merge,
  customer,
  snippets,
  outbox,
  run,
  deliver,
  reprocess,
  parked,
  quarantine,
  migrateStore,
];
