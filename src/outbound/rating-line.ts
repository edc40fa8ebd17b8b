// The rating line of a reply to a customer (SPEC §5E). In a pool with `ratings: true` every reply
// ends with the `rating` template: one `mailto:` link to the box per choice (good / okay / bad),
// each carrying a token that binds the rated reply (its outbox row), the customer and the score.
// A rating is then an e-mail the customer's own client sends, so a link scanner that opens every
// URL of a mail casts none.
//
// The token rides where an ordinary mail client keeps it: in the prefilled subject (after the
// template's subject line) and the prefilled body (beside a `Rating: <score>` line the customer
// sees), and in the To sub-address `box+<token>@domain` when the box has `subaddress: true`. The
// link follows RFC 6068: every character outside the unreserved set is percent-encoded (a space is
// %20, never '+'), line breaks in the body are %0D%0A.
import type { Config, MailboxConfig } from '../config/types.js';
import { RATING_SCORES, issueRatingToken, tokenSubaddress, type RatingScore } from '../tokens.js';
import type { Appendix, ReservedMail } from './queue.js';
import { headerText } from './headers.js';
import { renderTemplate } from './render.js';

export interface RatingChoice {
  score: RatingScore;
  /** what the customer sees (the score word) */
  label: string;
  /** the `mailto:` URL */
  mailto: string;
  /** `label <mailto:…>`: in the text part as written, in the HTML part a link showing the label */
  link: string;
}

/** The line a rating mail's body starts with; ingest compares its word with the token's score. */
function ratingBodyLine(score: string): string {
  return `Rating: ${score}`;
}

/** RFC 6068 percent-encoding: all but unreserved characters, so no client reads '+' as a space. */
function mailtoEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function mailtoUrl(to: string, subject: string, body: string): string {
  const crlf = body.replace(/\r?\n/g, '\r\n');
  return `mailto:${to}?subject=${mailtoEncode(subject)}&body=${mailtoEncode(crlf)}`;
}

export interface RatingLineInput {
  config: Config;
  box: MailboxConfig;
  caseId: string;
  /** the customer the reply goes to: the only address a rating of it counts from */
  customer: string;
}

/** The queueMail appendix that ends a reply with its rating line. */
export function ratingAppendix(input: RatingLineInput): (reserved: ReservedMail) => Appendix {
  return (reserved) => {
    const { config, box } = input;
    const choices = RATING_SCORES.map((score): RatingChoice => {
      const token = issueRatingToken(
        config.instance.secret,
        { caseId: input.caseId, outboxId: reserved.outboxId, score, issuedAt: new Date(reserved.at) },
        input.customer,
      );
      const to = (box.subaddress ? tokenSubaddress(box.address, token) : null) ?? box.address;
      const rendered = renderTemplate(config.instance.templates_dir, 'rating', reserved.scope, { ...reserved.vars, choice: { score, label: score } });
      const subject = `${headerText(rendered.subject)} ${token}`.trim();
      const mailto = mailtoUrl(to, subject, `${ratingBodyLine(score)}\nRef: ${token}\n\n`);
      return { score, label: score, mailto, link: `${score} <${mailto}>` };
    });
    const body = renderTemplate(config.instance.templates_dir, 'rating', reserved.scope, { ...reserved.vars, rating: { choices } }).text;
    return {
      text: `\n${body}`,
      links: choices.map((c) => ({ text: c.link, href: c.mailto, label: c.label })),
    };
  };
}
