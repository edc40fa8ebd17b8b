// Checks that need the whole document: references between sections, uniqueness, files on disk.
// They run on whatever parts of the document are well-formed (see ./salvage.ts), so every field
// read here may be missing and is guarded; a missing field is already reported by the schema.
import fs from 'node:fs';
import type { Config, LoginAuth, SnippetNode } from './types.js';
import type { ConfigIssue } from './validate.js';
import type { Loose } from './salvage.js';
import { checkTemplates } from './templates.js';
import { tokenLength } from '../tokens.js';
import { isEmail } from './validate.js';
import { checkReports } from './reports-check.js';

export function checkReferences(loose: Loose<Config>, opts: { compileTemplates: boolean } = { compileTemplates: true }): ConfigIssue[] {
  const config = withLists(loose);
  const issues: ConfigIssue[] = [];
  const add = (path: string, message: string) => issues.push({ path, message });

  const poolIds = uniqueIds(config.pools, 'pools', 'id', issues);
  const consultantIds = uniqueIds(config.consultants, 'consultants', 'id', issues);
  uniqueIds(config.mailboxes, 'mailboxes', 'id', issues);
  uniqueIds(config.mailboxes, 'mailboxes', 'address', issues);
  uniqueIds(config.consultants, 'consultants', 'email', issues);
  uniqueIds(config.departments, 'departments', 'id', issues);
  const calendarIds = uniqueIds(config.calendars, 'calendars', 'id', issues);
  const questionnaireIds = uniqueIds(config.questionnaires, 'questionnaires', 'id', issues);
  const dictionaryIds = uniqueIds(config.dictionaries, 'dictionaries', 'id', issues);

  const boxAddresses = new Set(config.mailboxes.map((m) => m.address));
  config.consultants.forEach((c, i) => {
    if (c.email && boxAddresses.has(c.email)) add(`consultants[${i}].email`, `is also a supervised mailbox address (${c.email})`);
  });
  config.departments.forEach((d, i) => {
    if (d.email && boxAddresses.has(d.email)) add(`departments[${i}].email`, `is also a supervised mailbox address (${d.email})`);
  });
  checkStaffAddresses(config, boxAddresses, add);
  const prefix = config.instance?.case_prefix;
  config.mailboxes.forEach((m, i) => {
    if (!m.subaddress || !m.address || !prefix) return;
    const local = m.address.slice(0, m.address.lastIndexOf('@'));
    const room = 64 - 1 - tokenLength(prefix);
    if (local.length > room)
      add(`mailboxes[${i}].subaddress`, `needs a local part of at most ${room} characters to fit a token (${local} has ${local.length})`);
  });

  config.mailboxes.forEach((m, i) => {
    if (m.pool !== undefined && !poolIds.has(m.pool)) add(`mailboxes[${i}].pool`, `names unknown pool "${m.pool}" (known: ${list(poolIds)})`);
  });
  config.pools.forEach((p, i) => {
    if (p.questionnaire && !questionnaireIds.has(p.questionnaire)) {
      add(`pools[${i}].questionnaire`, `names unknown questionnaire "${p.questionnaire}" (known: ${list(questionnaireIds)})`);
    }
    (p.notify_overdue ?? []).forEach((n, j) => {
      const at = `pools[${i}].notify_overdue[${j}]`;
      if (n.includes('@')) {
        if (!isEmail(n)) add(at, `must be a consultant id or an e-mail address (got "${n}")`);
        else if (boxAddresses.has(n.toLowerCase())) add(at, `is a supervised mailbox address (${n}); notices must go to people`);
      } else if (!consultantIds.has(n)) add(at, `names unknown consultant "${n}" (known: ${list(consultantIds)})`);
    });
  });
  // A deadline counted in a calendar that does not exist could not be counted at all.
  for (const [section, items] of [
    ['pools', config.pools],
    ['departments', config.departments],
  ] as const) {
    items.forEach((item, i) => {
      if (item.calendar !== undefined && !calendarIds.has(item.calendar))
        add(`${section}[${i}].calendar`, `names unknown calendar "${item.calendar}" (known: ${list(calendarIds)})`);
    });
  }
  config.consultants.forEach((c, i) => {
    (c.pools ?? []).forEach((cp, j) => {
      if (cp.pool !== undefined && !poolIds.has(cp.pool))
        add(`consultants[${i}].pools[${j}].pool`, `names unknown pool "${cp.pool}" (known: ${list(poolIds)})`);
    });
    if (c.trainee && !c.supervisor) add(`consultants[${i}].supervisor`, 'is required for a trainee');
    for (const key of ['supervisor', 'replacement'] as const) {
      const ref = c[key];
      if (ref === undefined) continue;
      if (!consultantIds.has(ref)) add(`consultants[${i}].${key}`, `names unknown consultant "${ref}"`);
      else if (ref === c.id) add(`consultants[${i}].${key}`, 'cannot be the consultant themself');
    }
    if (c.supervisor && consultantIds.has(c.supervisor)) {
      const sup = config.consultants.find((x) => x.id === c.supervisor)!;
      if (sup.roles && !sup.roles.includes('supervisor')) add(`consultants[${i}].supervisor`, `names "${sup.id}", who lacks the supervisor role`);
    }
    const image = c.footer?.image;
    if (image) {
      if (!/\.jpe?g$/i.test(image)) add(`consultants[${i}].footer.image`, `must be a JPEG file (got ${image})`);
      else if (!readable(image)) add(`consultants[${i}].footer.image`, `cannot be read (${image})`);
    }
  });
  config.departments.forEach((d, i) => {
    (d.notify_overdue ?? []).forEach((n, j) => {
      if (!n.includes('@') && !consultantIds.has(n)) add(`departments[${i}].notify_overdue[${j}]`, `names unknown consultant "${n}"`);
    });
  });
  config.questionnaires.forEach((q, i) => {
    (q.questions ?? []).forEach((question, j) => {
      if (question.dictionary && !dictionaryIds.has(question.dictionary)) {
        add(`questionnaires[${i}].questions[${j}].dictionary`, `names unknown dictionary "${question.dictionary}" (known: ${list(dictionaryIds)})`);
      }
    });
  });
  checkSnippets(config, issues);
  checkLogins(config, add);
  checkReports(config, add);
  if (config.storage?.files === 'directory' && !config.storage.directory)
    add('storage.directory', 'is required when storage.files is directory (the directory every node mounts)');
  issues.push(...checkTemplates(config, opts.compileTemplates));
  return issues;
}

/**
 * Staff mail is told apart by its sender, so every staff address (a consultant's or department's
 * email or alias) names one person or team and is no supervised box.
 */
function checkStaffAddresses(config: ReturnType<typeof withLists>, boxAddresses: Set<string | undefined>, add: (path: string, message: string) => void): void {
  const owner = new Map<string, string>();
  config.consultants.forEach((c, i) => owner.set(c.email?.toLowerCase() ?? '', `consultants[${i}]`));
  config.departments.forEach((d, i) => owner.set(d.email?.toLowerCase() ?? '', `departments[${i}]`));
  const checkAliases = (aliases: string[] | undefined, who: string) =>
    (aliases ?? []).forEach((alias, j) => {
      const at = `${who}.aliases[${j}]`;
      const key = alias.toLowerCase();
      if (boxAddresses.has(alias)) add(at, `is also a supervised mailbox address (${alias})`);
      else if (owner.has(key) && owner.get(key) !== who) add(at, `is already the address of ${owner.get(key)} (${alias})`);
      else owner.set(key, who);
    });
  config.consultants.forEach((c, i) => checkAliases(c.aliases, `consultants[${i}]`));
  config.departments.forEach((d, i) => checkAliases(d.aliases, `departments[${i}]`));
}

/** The document with every top-level list present (empty when missing or invalid). */
function withLists(config: Loose<Config>) {
  return {
    ...config,
    mailboxes: config.mailboxes ?? [],
    pools: config.pools ?? [],
    consultants: config.consultants ?? [],
    departments: config.departments ?? [],
    calendars: config.calendars ?? [],
    questionnaires: config.questionnaires ?? [],
    dictionaries: config.dictionaries ?? [],
    snippets: config.snippets ?? [],
  };
}

function checkSnippets(config: ReturnType<typeof withLists>, issues: ConfigIssue[]): void {
  const seen = new Map<string, string>();
  const allLanguages = new Set(config.pools.flatMap((p) => p.languages ?? []));
  const walk = (nodes: Loose<SnippetNode>[], at: string) => {
    nodes.forEach((node, i) => {
      const here = `${at}[${i}]`;
      if (node.code) {
        const before = seen.get(node.code);
        if (before) issues.push({ path: `${here}.code`, message: `duplicates code "${node.code}" of ${before}` });
        else seen.set(node.code, here);
        if (!node.text || Object.keys(node.text).length === 0) issues.push({ path: `${here}.text`, message: 'is required for a snippet with a code' });
        for (const lang of Object.keys(node.text ?? {})) {
          if (!allLanguages.has(lang))
            issues.push({ path: `${here}.text.${lang}`, message: `is a language no pool uses (pools use: ${[...allLanguages].join(', ')})` });
        }
      } else if (!node.children || node.children.length === 0) {
        issues.push({ path: here, message: 'needs either a code and text, or children' });
      }
      if (node.children) walk(node.children, `${here}.children`);
    });
  };
  walk(config.snippets, 'snippets');
}

/**
 * The fields each login method needs. The schema cannot say it field by field (which fields are
 * required depends on `auth.method` and `auth.grant`), and here every missing one is listed at once.
 */
function checkLogins(config: ReturnType<typeof withLists>, add: (path: string, message: string) => void): void {
  config.mailboxes.forEach((box, i) => {
    if (!box.imap) return;
    const at = `mailboxes[${i}].imap`;
    if ((box.imap.auth?.method ?? 'password') === 'password') {
      if (box.imap.password === undefined) add(`${at}.password`, 'is required (auth.method is password)');
      return;
    }
    if (box.imap.password !== undefined) add(`${at}.password`, 'is not used with auth.method xoauth2; remove it');
    checkOAuth2(box.imap.auth ?? {}, `${at}.auth`, add);
  });
  const smtp = config.smtp;
  if (smtp?.auth?.method !== 'xoauth2') return;
  if (smtp.user === undefined) add('smtp.user', 'is required with auth.method xoauth2 (the address of the mailbox that sends)');
  if (smtp.password !== undefined) add('smtp.password', 'is not used with auth.method xoauth2; remove it');
  checkOAuth2(smtp.auth, 'smtp.auth', add);
}

function checkOAuth2(auth: Loose<LoginAuth>, at: string, add: (path: string, message: string) => void): void {
  if (auth.token_url === undefined) add(`${at}.token_url`, 'is required with auth.method xoauth2');
  if (auth.client_id === undefined) add(`${at}.client_id`, 'is required with auth.method xoauth2');
  if ((auth.grant ?? 'refresh_token') === 'refresh_token') {
    if (auth.refresh_token === undefined) add(`${at}.refresh_token`, 'is required with the refresh_token grant');
    return;
  }
  if (auth.client_secret === undefined) add(`${at}.client_secret`, 'is required with the client_credentials grant');
  if (auth.scope === undefined) add(`${at}.scope`, 'is required with the client_credentials grant (Microsoft 365: https://outlook.office365.com/.default)');
  if (auth.refresh_token !== undefined) add(`${at}.refresh_token`, 'is not used with the client_credentials grant; remove it');
}

function uniqueIds<T>(items: T[], section: string, key: keyof T, issues: ConfigIssue[]): Set<string> {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const value = item[key];
    if (typeof value !== 'string') return;
    const first = seen.get(value);
    if (first !== undefined) issues.push({ path: `${section}[${i}].${String(key)}`, message: `duplicates ${section}[${first}].${String(key)} "${value}"` });
    else seen.set(value, i);
  });
  return new Set(seen.keys());
}

function list(ids: Set<string>): string {
  return ids.size ? [...ids].join(', ') : 'none';
}

function readable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.R_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
