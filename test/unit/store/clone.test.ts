// The store's deep copy of plain data: nothing shared with the original, every key kept as a key.
import { describe, expect, it } from 'vitest';
import { clonePlain } from '../../../src/store/clone.js';
import { aLine, anAlert } from '../../support/records.js';

describe('clonePlain', () => {
  it('copies an alert record deeply: changing the copy leaves the original as it was', () => {
    const original = anAlert({
      transcript: [aLine('hello')],
      outbox: [{ seq: 1, effect: { type: 'Greet' } as never, claim: { by: 'host:1', at: 'a', until: 'b' } as never }],
    });
    const before = structuredClone(original);
    const copy = clonePlain(original);
    expect(copy).toStrictEqual(original);
    copy.properties.country = 'AU';
    copy.chat.state = 'ended';
    (copy.outbox[0] as { claim?: unknown }).claim = undefined;
    copy.transcript.push(aLine('more'));
    expect(original).toStrictEqual(before);
  });

  it('keeps keys whose value is undefined, and null, as structuredClone does', () => {
    const value = { a: undefined, b: null, c: [1, undefined, 'x'], d: { e: false, f: 0 } };
    expect(clonePlain(value)).toStrictEqual(structuredClone(value));
    expect(Object.keys(clonePlain(value))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('keeps a key named "__proto__" (from JSON) as a key, not as the copy’s prototype', () => {
    const value = JSON.parse('{"properties": {"__proto__": {"polluted": true}, "host": "build-7"}}');
    const copy = clonePlain(value);
    expect(Object.keys(copy.properties)).toEqual(['__proto__', 'host']);
    expect(Object.getPrototypeOf(copy.properties)).toBe(Object.prototype);
    expect(copy.properties.polluted).toBeUndefined();
    expect(JSON.stringify(copy)).toBe(JSON.stringify(value));
  });
});
