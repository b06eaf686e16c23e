// One store transaction in a process of its own, as a one-shot command (send-alert, chat) makes it: prints its
// milliseconds, from opening the store to the transaction's end (Node's start-up is not counted).
// Usage: node one-transaction.js <store path> <alert id> touch|nothing
import { openLowdbStore } from '../../src/store/lowdb-store.js';

const [path, id, what] = process.argv.slice(2);
if (!path || !id) throw new Error('usage: one-transaction.js <store path> <alert id> touch|nothing');
const started = performance.now();
await openLowdbStore(path).transact((data) => {
  const alert = data.alerts[id];
  if (alert && what === 'touch') alert.lastActivityAt = new Date().toISOString();
});
process.stdout.write(`${performance.now() - started}\n`);
