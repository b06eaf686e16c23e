// An in-memory verifier for tests of app.ts: each person's pushes follow a script, and every call is recorded.
import type { PushStarted, PushStatus, Verifier } from '../../src/verify/port.js';

/** One push: how startPush answers (default: a txid), then what each poll answers (the last one repeats). */
export interface ScriptedPush {
  start?: PushStarted | Error;
  answers?: (PushStatus | Error)[];
}

export function testVerifier(script: Record<string, ScriptedPush[]>) {
  const calls: { method: 'startPush' | 'pushStatus'; arg: string }[] = [];
  const pushes = new Map<string, (PushStatus | Error)[]>();
  const sent = new Map<string, number>();
  const verifier: Verifier = {
    provider: 'duo',
    async startPush({ username }) {
      calls.push({ method: 'startPush', arg: username });
      const n = sent.get(username) ?? 0;
      const push = script[username]?.[n] ?? {};
      // A call that failed never reached the phone: the next one is still this push.
      if (push.start instanceof Error) {
        script[username]?.splice(n, 1);
        throw push.start;
      }
      sent.set(username, n + 1);
      if (push.start) return push.start;
      const txid = `${username}#${n + 1}`;
      pushes.set(txid, [...(push.answers ?? [{ result: 'approved', reason: 'approved on the phone' }])]);
      return { txid };
    },
    async pushStatus(txid) {
      calls.push({ method: 'pushStatus', arg: txid });
      const answers = pushes.get(txid);
      if (!answers) return { result: 'error', reason: `no such txid ${txid}` };
      const answer = answers.length > 1 ? answers.shift() : answers[0];
      if (answer instanceof Error) throw answer;
      return answer ?? { result: 'waiting' };
    },
  };
  return { verifier, calls, starts: () => calls.filter((c) => c.method === 'startPush').length };
}
