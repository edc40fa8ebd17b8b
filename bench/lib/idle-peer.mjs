// bench/lib/idle-peer: the RSS peer of an idle daemon — a bare node process holding N imapflow
// connections in IDLE, nothing else. Prints "idle" once every connection is idling.
//   node bench/lib/idle-peer.mjs <port> <user1> <user2> ...   (password `secret`)
import { ImapFlow } from 'imapflow';

const [port, ...users] = process.argv.slice(2);
const clients = users.map((user) => {
  const c = new ImapFlow({ host: '127.0.0.1', port: Number(port), secure: false, auth: { user, pass: 'secret' }, logger: false });
  c.on('error', () => {});
  return c;
});
for (const c of clients) {
  await c.connect();
  await c.mailboxOpen('INBOX');
}
// idle() resolves only when the IDLE ends: start them and leave them running.
for (const c of clients) void c.idle();
console.log('idle');
process.on('SIGTERM', () => process.exit(0));
