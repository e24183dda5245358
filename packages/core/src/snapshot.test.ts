import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import { InvalidOptionError } from './errors.js';
import { MAX_ROUND, parseSharedState } from './snapshot.js';

const shared = {
  version: 1,
  name: 'partner',
  state: 'open',
  round: 4,
  openedAt: 1_000,
  openUntil: 6_000,
  trips: 1,
  reason: 'consecutive-failures',
  origin: 'replica-a',
};

describe('parseSharedState', () => {
  it('returns a valid state as it is', () => {
    expect(parseSharedState(shared)).toEqual(shared);
  });

  it('accepts every breaker state, null times and the bounds of round and trips', () => {
    for (const state of ['closed', 'open', 'half-open', 'forced-open', 'disabled']) {
      expect(parseSharedState({ ...shared, state })).toEqual({ ...shared, state });
    }
    const bounds = { ...shared, openedAt: null, openUntil: null, round: MAX_ROUND, trips: 1_000_000_000 };
    expect(parseSharedState(bounds)).toEqual(bounds);
    const zero = { ...shared, round: 0, trips: 0 };
    expect(parseSharedState(zero)).toEqual(zero);
    const longest = { ...shared, origin: 'o'.repeat(1_000), openedAt: -5 };
    expect(parseSharedState(longest)).toEqual(longest);
  });

  it('drops fields a later version may add', () => {
    expect(parseSharedState({ ...shared, leader: 'replica-b' })).toEqual(shared);
  });

  it('says what is wrong, naming the field', () => {
    const problems = {
      'not an object': 'open',
      null: null,
      array: [shared],
      'version 2': { ...shared, version: 2 },
      'no name': { ...shared, name: undefined },
      'numeric name': { ...shared, name: 7 },
      'unknown state': { ...shared, state: 'ajar' },
      'negative round': { ...shared, round: -1 },
      'fractional round': { ...shared, round: 1.5 },
      'round past the bound': { ...shared, round: MAX_ROUND + 1 },
      'round as text': { ...shared, round: '4' },
      'infinite openedAt': { ...shared, openedAt: Number.POSITIVE_INFINITY },
      'openedAt as text': { ...shared, openedAt: 'yesterday' },
      'missing openUntil': { ...shared, openUntil: undefined },
      'NaN openUntil': { ...shared, openUntil: Number.NaN },
      'negative trips': { ...shared, trips: -1 },
      'too many trips': { ...shared, trips: 1_000_000_001 },
      'unknown reason': { ...shared, reason: 'boredom' },
      'missing origin': { ...shared, origin: undefined },
      'numeric origin': { ...shared, origin: 12 },
      'origin too long': { ...shared, origin: 'o'.repeat(1_001) },
    };
    expect(
      Object.fromEntries(Object.entries(problems).map(([label, value]) => [label, parseSharedState(value)])),
    ).toMatchInlineSnapshot(`
      {
        "NaN openUntil": ""openUntil" is not a clock time or null",
        "array": "the state is not an object",
        "fractional round": ""round" is not a whole number from 0 to 1125899906842624",
        "infinite openedAt": ""openedAt" is not a clock time or null",
        "missing openUntil": ""openUntil" is not a clock time or null",
        "missing origin": ""origin" is not a string",
        "negative round": ""round" is not a whole number from 0 to 1125899906842624",
        "negative trips": ""trips" is not a whole number from 0 to 1000000000",
        "no name": ""name" is not a string",
        "not an object": "the state is not an object",
        "null": "the state is not an object",
        "numeric name": ""name" is not a string",
        "numeric origin": ""origin" is not a string",
        "openedAt as text": ""openedAt" is not a clock time or null",
        "origin too long": ""origin" is not at most 1000 characters",
        "round as text": ""round" is not a whole number from 0 to 1125899906842624",
        "round past the bound": ""round" is not a whole number from 0 to 1125899906842624",
        "too many trips": ""trips" is not a whole number from 0 to 1000000000",
        "unknown reason": ""reason" is not a transition reason",
        "unknown state": ""state" is not one of "closed", "open", "half-open", "forced-open", "disabled"",
        "version 2": ""version" is not version 1",
      }
    `);
  });
});

describe('initialState', () => {
  const saved = {
    version: 1,
    name: 'partner',
    state: 'closed',
    round: 2,
    openedAt: null,
    openUntil: null,
    trips: 0,
  } as const;

  const messageOf = (initialState: unknown) => {
    try {
      new CircuitBreaker({ initialState: initialState as never });
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidOptionError);
      return `${(error as InvalidOptionError).option}: ${(error as Error).message}`;
    }
    return 'accepted';
  };

  it('resumes from a snapshot of toJSON(), taking its name', () => {
    const breaker = new CircuitBreaker({ initialState: saved });
    expect(breaker.toJSON()).toEqual(saved);
    expect(breaker.name).toBe('partner');
  });

  it('refuses anything but a snapshot, naming the field at fault', () => {
    expect({
      text: messageOf('closed'),
      array: messageOf([saved]),
      'a shared state': messageOf({ ...saved, reason: 'reset', origin: 'x' }),
      'a round past the bound': messageOf({ ...saved, round: MAX_ROUND + 1 }),
      'the largest round': messageOf({ ...saved, round: MAX_ROUND }),
      'too many trips': messageOf({ ...saved, trips: 1_000_000_001 }),
      'infinite openUntil': messageOf({ ...saved, state: 'open', openUntil: Number.POSITIVE_INFINITY }),
    }).toMatchInlineSnapshot(`
      {
        "a round past the bound": "initialState.round: Invalid CircuitBreaker option "initialState.round": expected a whole number from 0 to 1125899906842624; received 1125899906842625.",
        "a shared state": "initialState.reason: Unknown CircuitBreaker option "initialState.reason". Check the option\`s documentation.",
        "array": "initialState: Invalid CircuitBreaker option "initialState": expected a snapshot returned by breaker.toJSON(); received an array.",
        "infinite openUntil": "initialState.openUntil: Invalid CircuitBreaker option "initialState.openUntil": expected a clock time or null; received Infinity.",
        "text": "initialState: Invalid CircuitBreaker option "initialState": expected a snapshot returned by breaker.toJSON(); received "closed".",
        "the largest round": "accepted",
        "too many trips": "initialState.trips: Invalid CircuitBreaker option "initialState.trips": expected a whole number from 0 to 1000000000; received 1000000001.",
      }
    `);
  });
});
