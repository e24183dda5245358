import { describe, expect, it } from 'vitest';
import { InvalidOptionError } from './errors.js';
import { resolveOptions } from './options.js';
import { bulkhead } from './policies/BulkheadPolicy.js';

function refusal(options: unknown, context?: string, extraKeys?: string[]): string {
  try {
    resolveOptions(options as never, context, extraKeys);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return `${(error as InvalidOptionError).option}: ${(error as Error).message}`;
  }
  return 'accepted';
}

/** The end of a message for an unknown option: its suggestion only, without the list of known options. */
const suggestion = (key: string) => {
  const message = refusal({ [key]: 1 });
  return message.slice(message.indexOf('".') + 2, message.indexOf(' Known options:'));
};

describe('options that are not an object', () => {
  it('are refused, saying what was received', () => {
    expect({
      null: refusal(null),
      array: refusal([]),
      number: refusal(5),
      boolean: refusal(true),
      function: refusal(() => ({})),
      'in another context': refusal('x', 'guard()'),
    }).toMatchInlineSnapshot(`
      {
        "array": "options: CircuitBreaker options must be an object; received an array.",
        "boolean": "options: CircuitBreaker options must be an object; received true.",
        "function": "options: CircuitBreaker options must be an object; received a function.",
        "in another context": "options: guard() options must be an object; received "x".",
        "null": "options: CircuitBreaker options must be an object; received null.",
        "number": "options: CircuitBreaker options must be an object; received 5.",
      }
    `);
  });

  it('undefined and an empty object mean every default', () => {
    expect(resolveOptions(undefined)).toEqual(resolveOptions({}));
    expect(resolveOptions(undefined).name).toBe('breaker');
  });
});

describe('an unknown option', () => {
  it('is named with a suggestion of a known option within two edits, in any case', () => {
    expect({
      'one letter missing': suggestion('timout'),
      'one letter more': suggestion('timeouts'),
      'one letter changed': suggestion('tineout'),
      'two letters swapped': suggestion('tiemout'),
      'other case': suggestion('FailureThreshold'),
      'all in capitals': suggestion('HALFOPENMAXCONCURRENT'),
      'three edits away': suggestion('tmot'),
      'far from anything': suggestion('colour'),
      'a single letter': suggestion('x'),
      'the first of two equally close': suggestion('clore'),
      'a nearer one listed later': suggestion('mxTimeout'),
    }).toMatchInlineSnapshot(`
      {
        "a nearer one listed later": " Did you mean \`maxTimeout\`?",
        "a single letter": "",
        "all in capitals": " Did you mean \`halfOpenMaxConcurrent\`?",
        "far from anything": "",
        "one letter changed": " Did you mean \`timeout\`?",
        "one letter missing": " Did you mean \`timeout\`?",
        "one letter more": " Did you mean \`timeout\`?",
        "other case": " Did you mean \`failureThreshold\`?",
        "the first of two equally close": " Did you mean \`clock\`?",
        "three edits away": "",
        "two letters swapped": " Did you mean \`timeout\`?",
      }
    `);
  });

  it('lists every known option, and the extra ones of a wrapping API', () => {
    expect(refusal({ methods: ['GET'] }, 'guard()', ['method', 'name', 'status'])).toMatchInlineSnapshot(
      `"methods: Unknown guard() option "methods". Did you mean \`method\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState, method, status."`,
    );
  });

  it('of another library takes the hint for that library before a near name', () => {
    expect(suggestion('volumeThreshold')).toMatchInlineSnapshot(`" Did you mean \`minimumCalls\`?"`);
  });

  it('inside an option lists no options, as it names a field of that option', () => {
    expect({
      window: refusal({ window: { type: 'count', size: 10, sizes: 10 } }),
      initialState: refusal({
        initialState: {
          version: 1,
          name: 'b',
          state: 'closed',
          round: 0,
          openedAt: null,
          openUntil: null,
          trips: 0,
          extra: true,
        },
      }),
    }).toMatchInlineSnapshot(`
      {
        "initialState": "initialState.extra: Unknown CircuitBreaker option "initialState.extra". Check the option\`s documentation.",
        "window": "window.sizes: Unknown CircuitBreaker option "window.sizes". Check the option\`s documentation.",
      }
    `);
  });

  it('is reported before a missing or wrong option it may be the misspelling of', () => {
    expect(refusal({ timeout: -1, failureTreshold: 3 })).toMatch(
      /^failureTreshold: Unknown CircuitBreaker option/,
    );
  });
});

describe('a received value in a message', () => {
  it('is shown short and safe, whatever its type', () => {
    const received = (value: unknown) => {
      const message = refusal({ timeout: value });
      return message.slice(message.indexOf('received ') + 'received '.length, -1);
    };
    expect({
      string: received(''),
      'string of 60': received('x'.repeat(60)),
      'string of 61': received(`${'y'.repeat(57)}abcd`),
      quotes: received('say "hi"'),
      number: received(-1.5),
      NaN: received(Number.NaN),
      bigint: received(10n),
      boolean: received(false),
      null: received(null),
      array: received(['a']),
      object: received({ first: 'a' }),
      function: received(() => 'a'),
      symbol: received(Symbol('id')),
    }).toMatchInlineSnapshot(`
      {
        "NaN": "NaN",
        "array": "an array",
        "bigint": "10n",
        "boolean": "false",
        "function": "a function",
        "null": "null",
        "number": "-1.5",
        "object": "an object",
        "quotes": ""say \\"hi\\""",
        "string": """",
        "string of 60": ""xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"",
        "string of 61": ""yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy..."",
        "symbol": "Symbol(id)",
      }
    `);
  });

  it('is found inside a nested option, and is undefined where nothing was given', () => {
    let noOptions = '';
    try {
      bulkhead(undefined as never);
    } catch (error) {
      noOptions = (error as Error).message;
    }
    expect({
      nested: refusal({ window: { type: 'time', duration: 'long' } }),
      missing: refusal({ window: { type: 'time' } }),
      'no options at all': noOptions,
    }).toMatchInlineSnapshot(`
      {
        "missing": "window.duration: Invalid CircuitBreaker option "window.duration": expected a finite number of milliseconds of at least 1; received undefined.",
        "nested": "window.duration: Invalid CircuitBreaker option "window.duration": expected a finite number of milliseconds of at least 1; received "long".",
        "no options at all": "Invalid bulkhead() option "maxConcurrent": expected a whole number of at least 1; received undefined.",
      }
    `);
  });
});
