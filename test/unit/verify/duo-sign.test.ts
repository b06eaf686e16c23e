// Duo's request signature against the examples in Duo's published client tests (duo_api_nodejs tests/duo_sig.js).
import { describe, expect, it } from 'vitest';
import { canonicalize, canonParams, isSignedBy, signRequest } from '../../../src/verify/duo-sign.js';

const PUNCTUATION = '!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~';
const PUNCTUATION_ENCODED = '%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~';

describe('canonParams', () => {
  it.each([
    [{}, ''],
    [{ realname: 'First Last' }, 'realname=First%20Last'],
    [{ username: 'root', realname: 'First Last' }, 'realname=First%20Last&username=root'],
    [
      {
        digits: '0123456789',
        letters: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ',
        punctuation: PUNCTUATION,
        whitespace: '\t\n\x0b\x0c\r ',
      },
      `digits=0123456789&letters=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ&punctuation=${PUNCTUATION_ENCODED}&whitespace=%09%0A%0B%0C%0D%20`,
    ],
    [
      { punctuation: PUNCTUATION, again: PUNCTUATION },
      `again=${PUNCTUATION_ENCODED}&punctuation=${PUNCTUATION_ENCODED}`,
    ],
    [{ foo_bar: '2', foo: '1' }, 'foo=1&foo_bar=2'],
    [{ ip_whitelist_enroll_policy: '2', ip_whitelist: '1' }, 'ip_whitelist=1&ip_whitelist_enroll_policy=2'],
    [
      {
        bar: '\u2815\uaaa3\u37cf\u4bb7\u36e9\ucc05\u668e\u8162\uc2bd\ua1f1',
        baz: '\u0df3\u84bd\u5669\u9985\ub8a4\uac3a\u7be7\u6f69\u934a\ub91c',
      },
      'bar=%E2%A0%95%EA%AA%A3%E3%9F%8F%E4%AE%B7%E3%9B%A9%EC%B0%85%E6%9A%8E%E8%85%A2%EC%8A%BD%EA%87%B1&baz=%E0%B7%B3%E8%92%BD%E5%99%A9%E9%A6%85%EB%A2%A4%EA%B0%BA%E7%AF%A7%E6%BD%A9%E9%8D%8A%EB%A4%9C',
    ],
  ])('encodes and sorts %j as Duo does', (params, expected) => {
    expect(canonParams(params)).toBe(expected);
  });
});

describe('signRequest', () => {
  const keys = { integrationKey: 'test_ikey', secretKey: 'test_skey' };
  const date = 'Tue, 21 Aug 2012 17:29:18 -0000';
  const params = { realname: 'First Last', username: 'root' };
  const expected =
    'Basic dGVzdF9pa2V5OjA0MmEzMGM2ODJiZDgzNmZjNWJhNDY3ODkxYTk1NmVhYTEwMDkxY2EwZjczYTdmYjM5NmFlZmQ1NmEzNTI5ZTU2OTMyZGVhNDI3YTY3MjEzYWY2NjRiYTY4NDE2ODlmZjIzMzZiN2EzNzM3NjZlYTVhYjdhYjlmZTI2MzgyMjZi';

  it('gives the v2 signature of Duo’s published example', () => {
    expect(signRequest(keys, 'POST', 'test.duosecurity.com', '/test/v1', params, date)).toBe(expected);
  });

  it('signs the method in capitals and the host in lower case', () => {
    expect(canonicalize('post', 'Test.DuoSecurity.com', '/test/v1', params, date)).toBe(
      `${date}\nPOST\ntest.duosecurity.com\n/test/v1\nrealname=First%20Last&username=root`,
    );
    expect(signRequest(keys, 'post', 'TEST.duosecurity.com', '/test/v1', params, date)).toBe(expected);
  });

  it('checks a header against the request, and refuses any change to it', () => {
    const request = { method: 'POST', host: 'test.duosecurity.com', path: '/test/v1', params, date };
    expect(isSignedBy(expected, keys, request)).toBe(true);
    expect(isSignedBy(undefined, keys, request)).toBe(false);
    expect(isSignedBy(expected, { ...keys, secretKey: 'other' }, request)).toBe(false);
    expect(isSignedBy(expected, keys, { ...request, host: '127.0.0.1:8080' })).toBe(false);
    expect(isSignedBy(expected, keys, { ...request, params: { ...params, username: 'admin' } })).toBe(false);
    expect(isSignedBy(expected, keys, { ...request, date: 'Tue, 21 Aug 2012 17:29:19 -0000' })).toBe(false);
  });
});
