// bench/report-actions: the domain actions of a case's life, as the generator plays them: each
// writes, in the application's order, the rows its real counterpart writes (ingest's accept
// transaction, takeNext, replyToCase, consultCase and the department's answer, the scheduler's
// overdue notices, withdrawConsultation, assignCase, changeStatusWithoutMail, a rating mail). Why
// apart from the rows (bench/report-rows.mjs): this file is the sequence, checked by report-verify.
import { boxAddress, CLOSING, DEPARTMENTS, hexOf, INSTANCE_NAME, iso, PREFIX, staffEmail, staffName, YEAR_END } from './report-desk.mjs';
import { makeRows } from './report-rows.mjs';

const RATING_LINE =
  '\nHow did we do? Choose one and send the e-mail it opens; a comment in it is welcome.\n' +
  ['good', 'okay', 'bad']
    .map((s) => `${s} <mailto:BOX?subject=Rating%3A%20${s}%20%5BCASE%5D%20r1.TOKENTOKENTOKENTOKENTOKENTOKENTOKENTOKENTOKEN&body=Ref%3A%20r1.TOKEN>`)
    .join('\n');

/** The domain actions over one database; `counts` tells how many rows each table got. */
export function makeWriter(sqlite, seed = 1) {
  const r = makeRows(sqlite, seed);
  const { st, ids, uids, counts, rnd, event, change, setStatus, firstResponse, raw, inboundRow, messageIn, mail, box, tag, notifyConsultant } = r;
  const ourMessageId = r.ourMessageId;
  const tokenMessageId = r.tokenMessageId;

  // --- the domain actions -------------------------------------------------------------------

  /** A customer's first mail: the accept transaction's createCase, with the queued auto-response. */
  function open(c, at) {
    const h = raw(at, 2400 + ((rnd() * 4000) | 0));
    ids.caseSeq++;
    c.id = `${PREFIX}-${String(ids.caseSeq).padStart(6, '0')}`;
    st.seq.run(PREFIX, ids.caseSeq);
    st.caseIns.run(c.id, c.pool_id, c.mailbox_id, c.subject, c.customer_address, c.customer_name, c.received_at, c.deadline_at, at);
    c.updated_at = at;
    counts.cases++;
    st.participant.run(c.id, c.customer_address, 'customer', at);
    const messageId = `<${c.customerSeq}.${Date.parse(at).toString(36)}.${hexOf(rnd, 8)}@mail.example.org>`;
    event(c, at, 'system', 'created', null, null, null, { mailbox: c.mailbox_id, pool: c.pool_id, message_id: messageId, reason: 'new', linked_case_id: null });
    const rowId = messageIn(
      c,
      'inbound',
      {
        from: c.customer_address,
        fromName: c.customer_name,
        to: [boxAddress(c.pool_id)],
        subject: c.subject,
        messageId,
        inReplyTo: null,
        references: null,
        text: `Hello,\n\n${c.subject}. Could you please help me with this? My customer number is ${c.customerSeq}.\n\nRegards,\n${c.customer_name}\n`,
        raw: h,
      },
      at,
    );
    c.thread.push(messageId);
    c.lastCustomerId = messageId;
    event(c, at, 'system', 'message', null, null, null, { message_row_id: rowId, from: c.customer_address, mailbox: c.mailbox_id });
    const b = box(c);
    const auto = mail(
      c,
      {
        kind: 'auto_response',
        messageKind: 'auto_response',
        from: b.from,
        fromName: b.fromName,
        to: c.customer_address,
        subject: `${tag(c)} We have received your message: ${c.subject}`,
        messageId: ourMessageId(b.domain),
        inReplyTo: messageId,
        references: [],
        text: `Hello ${c.customer_name},\n\nthank you for your message. We have registered it as case ${c.id} and will answer as soon as we can.\n\n${INSTANCE_NAME}\n`,
        autoSubmitted: 'auto-replied',
      },
      at,
    );
    event(c, at, 'system', 'auto_response', null, null, 'queued', { outbox_id: auto.outboxId, message_id: auto.messageId, template: 'auto-response' });
    inboundRow(c, h, messageId, 'case', rowId, at);
  }

  /** The customer writes again on the open case (appendToCase; reopens when closed: feedback). */
  function customerWrites(c, at) {
    const reopen = CLOSING.has(c.status);
    const h = raw(at, 1800 + ((rnd() * 3000) | 0));
    const messageId = `<${c.customerSeq}.${Date.parse(at).toString(36)}.${hexOf(rnd, 8)}@mail.example.org>`;
    const inReplyTo = c.thread[c.thread.length - 1];
    const rowId = messageIn(
      c,
      'inbound',
      {
        from: c.customer_address,
        fromName: c.customer_name,
        to: [boxAddress(c.pool_id)],
        subject: `Re: ${tag(c)} ${c.subject}`,
        messageId,
        inReplyTo,
        references: c.thread.join(' '),
        text: reopen ? 'Thank you, but it still does not work. What now?\n' : 'Hello again, is there any news on my question?\n',
        raw: h,
        feedback: reopen,
      },
      at,
    );
    c.thread.push(messageId);
    c.lastCustomerId = messageId;
    event(c, at, 'system', 'message', null, null, null, {
      message_row_id: rowId,
      from: c.customer_address,
      via: 'header',
      feedback: reopen,
      auto_reply: false,
    });
    if (reopen) setStatus(c, 'system', 'in_progress', at, { kind: 'reopened' });
    if (c.assignee) {
      notifyConsultant(c, c.assignee, reopen ? 'The customer wrote again after closing (case reopened)' : 'The customer wrote again', at);
    }
    inboundRow(c, h, messageId, 'case', rowId, at);
  }

  /** `next`: the case is the consultant's, in progress. */
  function take(c, consultant, at) {
    setStatus(c, consultant, 'in_progress', at, { assignee: consultant });
    event(c, at, consultant, 'taken', null, null, consultant, { via: 'next' });
  }

  /** A supervisor hands the case on (`assign`). */
  function assign(c, supervisor, to, at) {
    change(c, supervisor, { assignee: to }, at);
  }

  /** `reply` (optionally with --status): the mail, its history row, the status, the first response. */
  function reply(c, consultant, at, status) {
    const b = box(c);
    const m = mail(
      c,
      {
        kind: 'reply',
        messageKind: 'outbound',
        author: consultant,
        from: b.from,
        fromName: b.fromName,
        to: c.customer_address,
        subject: `${tag(c)} Re: ${c.subject}`,
        messageId: ourMessageId(b.domain),
        inReplyTo: c.lastCustomerId,
        references: [...c.thread],
        text: `Dear ${c.customer_name},\n\nthank you for your patience. We have checked your case and the matter is now settled; please let us know if anything else comes up.\n\n--\n${staffName(consultant)}\n${RATING_LINE.replaceAll('BOX', boxAddress(c.pool_id)).replaceAll('CASE', c.id)}`,
      },
      at,
    );
    event(c, at, consultant, 'reply', null, null, 'queued', { outbox: m.outboxId, message_id: m.messageId });
    if (status && status !== c.status) setStatus(c, consultant, status, at);
    firstResponse(c, consultant, at);
    c.lastReply = { outboxId: m.outboxId, rowId: m.rowId, consultant };
  }

  /** `status <case> solved|closed` without mail. */
  function statusOnly(c, consultant, at, status) {
    setStatus(c, consultant, status, at);
  }

  /** `consult --dept`: the consultation row, its mail with a consult token, the case under consultation. */
  function consult(c, consultant, dept, at) {
    const d = DEPARTMENTS.find((x) => x.id === dept);
    const deadline = iso(Date.parse(at) + d.ms);
    const id = ++ids.consultation;
    st.consultation.run(id, c.id, d.id, consultant, at, deadline);
    c.consultedAt ??= at;
    counts.consultations++;
    const b = box(c);
    const m = mail(
      c,
      {
        kind: 'consultation',
        messageKind: 'consult_out',
        author: consultant,
        from: b.from,
        fromName: b.fromName,
        to: d.email,
        subject: `${tag(c)} Consultation from ${INSTANCE_NAME}: ${c.subject}`,
        messageId: tokenMessageId(b.domain),
        text: `Hello ${d.name},\n\nplease tell us whether the customer's request can be granted. Deadline: ${deadline}.\n\n${staffName(consultant)}\n`,
      },
      at,
    );
    st.consultMail.run(m.outboxId, m.rowId, id);
    event(c, at, consultant, 'consultation', 'consultation', null, 'open', { consultation: id, dept: d.id, deadline_at: deadline, outbox: m.outboxId });
    setStatus(c, consultant, 'under_consultation', at);
    return { id, dept: d.id, deadline, messageId: m.messageId, consultant };
  }

  /** The scheduler's notice of a consultation still open past its deadline. */
  function consultOverdue(c, k, at) {
    st.consultNotified.run(at, k.id);
    const b = box(c);
    const d = DEPARTMENTS.find((x) => x.id === k.dept);
    const sent = [];
    for (const r of [
      { key: `consultant:${k.consultant}`, to: staffEmail(k.consultant) },
      { key: `department:${d.id}`, to: d.email },
    ]) {
      const m = mail(
        c,
        {
          kind: 'consultation_overdue',
          messageKind: 'notification',
          from: b.from,
          fromName: b.fromName,
          to: r.to,
          subject: `${tag(c)} Consultation overdue: ${d.name}`,
          messageId: tokenMessageId(b.domain),
          text: `The consultation of ${d.name} on case ${c.id} ("${c.subject}") was due ${k.deadline}.\n`,
          autoSubmitted: 'auto-generated',
          noticeKey: `consultation_overdue:${k.id}:${k.deadline}:${r.key}`,
        },
        at,
      );
      sent.push({ to: r.key, outbox: m.outboxId });
    }
    event(c, at, 'daemon', 'overdue_notice', 'consultation', null, sent.map((s) => s.to).join(','), {
      consultation: k.id,
      dept: d.id,
      deadline_at: k.deadline,
      answered_late: false,
      outbox: sent.map((s) => s.outbox),
    });
  }

  /** The department's answer (token in its headers): consult_in, the consultation answered, the case back. */
  function deptAnswer(c, k, at) {
    const d = DEPARTMENTS.find((x) => x.id === k.dept);
    const h = raw(at, 3000);
    const messageId = `<${Date.parse(at).toString(36)}.${hexOf(rnd, 10)}@dept.bank.test>`;
    const rowId = messageIn(
      c,
      'consult_in',
      {
        from: d.email,
        fromName: d.name,
        to: [boxAddress(c.pool_id)],
        subject: `Re: ${tag(c)} Consultation from ${INSTANCE_NAME}: ${c.subject}`,
        messageId,
        inReplyTo: k.messageId,
        references: k.messageId,
        text: 'Yes, this can be granted under the usual terms.\n',
        raw: h,
      },
      at,
    );
    event(c, at, 'system', 'message', null, null, null, { message_row_id: rowId, from: d.email, via: 'token', consult: d.id });
    st.consultAnswered.run(at, rowId, k.id);
    const late = Date.parse(at) > Date.parse(k.deadline);
    const actor = `department:${d.id}`;
    event(c, at, actor, 'consultation', 'consultation', 'open', 'answered', {
      consultation: k.id,
      dept: d.id,
      message_row_id: rowId,
      via: 'token',
      late,
      follow_up: false,
    });
    if (c.status === 'under_consultation') setStatus(c, actor, 'in_progress', at);
    if (c.assignee) notifyConsultant(c, c.assignee, `${d.name} answered the consultation`, at);
    inboundRow(c, h, messageId, 'staff', rowId, at);
  }

  /** `consult --withdraw` of a consultation nobody answered. */
  function withdraw(c, consultant, k, at) {
    const d = DEPARTMENTS.find((x) => x.id === k.dept);
    st.consultWithdrawn.run(consultant, at, k.id);
    event(c, at, consultant, 'consultation', 'consultation', 'open', 'withdrawn', { consultation: k.id, dept: d.id });
    const b = box(c);
    mail(
      c,
      {
        kind: 'consultation',
        messageKind: 'consult_out',
        author: consultant,
        from: b.from,
        fromName: b.fromName,
        to: d.email,
        subject: `${tag(c)} Consultation withdrawn: ${c.subject}`,
        messageId: tokenMessageId(b.domain),
        text: `Hello ${d.name},\n\nwe no longer need your answer on case ${c.id}.\n`,
        autoSubmitted: 'auto-generated',
      },
      at,
    );
    if (c.status === 'under_consultation') setStatus(c, consultant, 'in_progress', at);
  }

  /** The scheduler's overdue notice of a case (to its assignee; the pools name nobody else). */
  function caseOverdue(c, at) {
    const outboxes = [];
    if (c.assignee) {
      const b = box(c);
      const m = mail(
        c,
        {
          kind: 'case_overdue',
          messageKind: 'notification',
          from: b.from,
          fromName: INSTANCE_NAME,
          to: staffEmail(c.assignee),
          subject: `${tag(c)} Case overdue: ${c.subject}`,
          messageId: tokenMessageId(b.domain),
          text: `Case ${c.id} from ${c.customer_address} ("${c.subject}") is past its deadline ${c.deadline_at}.\n`,
          autoSubmitted: 'auto-generated',
          noticeKey: `case_overdue:${c.id}:${c.deadline_at}:${c.assignee}`,
        },
        at,
      );
      outboxes.push(m.outboxId);
    }
    change(c, 'daemon', { overdue_notified_at: at }, at);
    event(c, at, 'daemon', 'overdue_notice', null, null, c.assignee ?? null, { outbox: outboxes });
  }

  /** A customer's rating mail of the last reply (acceptRatingMail + recordRating). */
  function rate(c, score, comment, at) {
    const h = raw(at, 1500);
    const messageId = `<${c.customerSeq}.${Date.parse(at).toString(36)}.${hexOf(rnd, 8)}@mail.example.org>`;
    const r = c.lastReply;
    st.rating.run(c.id, r.outboxId, r.rowId, r.consultant, c.customer_address.toLowerCase(), score, comment, messageId, h, at);
    counts.ratings++;
    event(c, at, 'system', 'rating', 'rating', null, score, {
      rating: counts.ratings,
      outbox: r.outboxId,
      consultant: r.consultant,
      customer: c.customer_address.toLowerCase(),
      comment,
      message_id: messageId,
    });
    inboundRow(c, h, messageId, 'rating', null, at);
  }

  /** The case row as the history left it (written once, at the end of its life). */
  function finish(c) {
    st.caseFinal.run(c.status, c.assignee, c.first_response_at, c.closed_at, c.overdue_notified_at, c.updated_at, c.version, c.id);
  }

  function close() {
    for (const [mailbox, uid] of uids) st.mailboxState.run(mailbox, uid, iso(YEAR_END));
  }

  return {
    open,
    customerWrites,
    take,
    assign,
    reply,
    statusOnly,
    consult,
    consultOverdue,
    deptAnswer,
    withdraw,
    caseOverdue,
    rate,
    finish,
    close,
    counts,
    setStatus,
  };
}
