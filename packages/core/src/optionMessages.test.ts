import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './CircuitBreaker.js';
import { InvalidOptionError } from './errors.js';
import { bulkhead } from './policies/BulkheadPolicy.js';
import { retry } from './policies/RetryPolicy.js';

// The whole message of each invalid option, as users read it: the option, what is allowed, what was
// given, and for another library's option name, the name to use here.
function messageOf(make: () => unknown): string {
  try {
    make();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    return (error as Error).message;
  }
  throw new Error('expected the options to be rejected');
}

const messages = (cases: Record<string, () => unknown>) =>
  Object.fromEntries(Object.entries(cases).map(([label, make]) => [label, messageOf(make)]));

const breaker = (options: unknown) => () => new CircuitBreaker(options as never);

describe('option messages', () => {
  it('CircuitBreaker: every option', () => {
    expect(
      messages({
        name: breaker({ name: 1 }),
        failureThreshold: breaker({ failureThreshold: 0 }),
        successThreshold: breaker({ successThreshold: 1.5 }),
        timeout: breaker({ timeout: -1 }),
        timeoutMultiplier: breaker({ timeoutMultiplier: 0.5 }),
        'timeoutMultiplier infinite': breaker({ timeoutMultiplier: Number.POSITIVE_INFINITY }),
        maxTimeout: breaker({ maxTimeout: 'long' }),
        'maxTimeout below timeout': breaker({ timeout: 5_000, maxTimeout: 1_000 }),
        timeoutJitter: breaker({ timeoutJitter: -0.1 }),
        halfOpenMaxConcurrent: breaker({ halfOpenMaxConcurrent: 0 }),
        halfOpenPermitTimeout: breaker({ halfOpenPermitTimeout: 0 }),
        callTimeout: breaker({ callTimeout: Number.NaN }),
        recoveryDuration: breaker({ recoveryDuration: -5 }),
        recoveryInitialRate: breaker({ recoveryInitialRate: 101 }),
        isFailure: breaker({ isFailure: 'yes' }),
        'window type': breaker({ window: { type: 'ring' } }),
        'window size': breaker({ window: { type: 'count', size: 0 } }),
        'window duration': breaker({ window: { type: 'time', duration: 0 } }),
        'window buckets': breaker({ window: { type: 'time', duration: 1_000, buckets: 0 } }),
        minimumCalls: breaker({ minimumCalls: 0 }),
        'minimumCalls above the window': breaker({
          failureRateThreshold: 50,
          window: { type: 'count', size: 5 },
        }),
        failureRateThreshold: breaker({ failureRateThreshold: -1 }),
        slowCallDuration: breaker({ slowCallDuration: -1 }),
        'slowCallRateThreshold without slowCallDuration': breaker({ slowCallRateThreshold: 50 }),
        clock: breaker({ clock: { now: 1 } }),
        random: breaker({ random: 0.5 }),
        store: breaker({ store: {} }),
        initialState: breaker({ initialState: { state: 'open' } }),
        'not an object': breaker('fast'),
        'a misspelt option': breaker({ failureTreshold: 3 }),
      }),
    ).toMatchInlineSnapshot(`
      {
        "a misspelt option": "Unknown CircuitBreaker option "failureTreshold". Did you mean \`failureThreshold\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "callTimeout": "Invalid CircuitBreaker option "callTimeout": expected a finite number of milliseconds of at least 1; received NaN.",
        "clock": "Invalid CircuitBreaker option "clock": expected an object with now(), setTimeout() and clearTimeout(); received an object.",
        "failureRateThreshold": "Invalid CircuitBreaker option "failureRateThreshold": expected a percentage above 0 and at most 100; received -1.",
        "failureThreshold": "Invalid CircuitBreaker option "failureThreshold": expected a whole number of at least 1; received 0.",
        "halfOpenMaxConcurrent": "Invalid CircuitBreaker option "halfOpenMaxConcurrent": expected a whole number of at least 1; received 0.",
        "halfOpenPermitTimeout": "Invalid CircuitBreaker option "halfOpenPermitTimeout": expected a finite number of milliseconds of at least 1; received 0.",
        "initialState": "Invalid CircuitBreaker option "initialState.version": expected version 1; received undefined.",
        "isFailure": "Invalid CircuitBreaker option "isFailure": expected a function (error) => boolean; received "yes".",
        "maxTimeout": "Invalid CircuitBreaker option "maxTimeout": expected a finite number of milliseconds of at least 0; received "long".",
        "maxTimeout below timeout": "Invalid CircuitBreaker option "maxTimeout": expected at least \`timeout\` (5000); received 1000.",
        "minimumCalls": "Invalid CircuitBreaker option "minimumCalls": expected a whole number of at least 1; received 0.",
        "minimumCalls above the window": "Invalid CircuitBreaker option "minimumCalls": expected at most the window size (5), or the rate rule could never open the breaker; received 10.",
        "name": "Invalid CircuitBreaker option "name": expected a non-empty string; received 1.",
        "not an object": "CircuitBreaker options must be an object; received "fast".",
        "random": "Invalid CircuitBreaker option "random": expected a function returning a number in [0, 1); received 0.5.",
        "recoveryDuration": "Invalid CircuitBreaker option "recoveryDuration": expected a finite number of milliseconds of at least 0; received -5.",
        "recoveryInitialRate": "Invalid CircuitBreaker option "recoveryInitialRate": expected a percentage above 0 and at most 100; received 101.",
        "slowCallDuration": "Invalid CircuitBreaker option "slowCallDuration": expected a finite number of milliseconds of at least 0; received -1.",
        "slowCallRateThreshold without slowCallDuration": "Invalid CircuitBreaker option "slowCallDuration": expected a number of milliseconds when \`slowCallRateThreshold\` is set; received undefined.",
        "store": "Invalid CircuitBreaker option "store": expected a StateStore (an object with connect()); received an object.",
        "successThreshold": "Invalid CircuitBreaker option "successThreshold": expected a whole number of at least 1; received 1.5.",
        "timeout": "Invalid CircuitBreaker option "timeout": expected a finite number of milliseconds of at least 0; received -1.",
        "timeoutJitter": "Invalid CircuitBreaker option "timeoutJitter": expected a number from 0 to 1; received -0.1.",
        "timeoutMultiplier": "Invalid CircuitBreaker option "timeoutMultiplier": expected a finite number of at least 1; received 0.5.",
        "timeoutMultiplier infinite": "Invalid CircuitBreaker option "timeoutMultiplier": expected a finite number of at least 1; received Infinity.",
        "window buckets": "Invalid CircuitBreaker option "window.buckets": expected a whole number from 1 to 10000; received 0.",
        "window duration": "Invalid CircuitBreaker option "window.duration": expected a finite number of milliseconds of at least 1; received 0.",
        "window size": "Invalid CircuitBreaker option "window.size": expected a whole number from 1 to 1000000; received 0.",
        "window type": "Invalid CircuitBreaker option "window.type": expected { type: "count", size } or { type: "time", duration, buckets }; received "ring".",
      }
    `);
  });

  it("CircuitBreaker: other libraries' option names", () => {
    const foreign = [
      'resetTimeout',
      'errorThresholdPercentage',
      'volumeThreshold',
      'rollingCountTimeout',
      'rollingCountBuckets',
      'errorFilter',
      'capacity',
      'rampUpDuration',
      'halfOpenAfter',
      'breaker',
      'waitDurationInOpenState',
      'slidingWindowSize',
      'slidingWindowType',
      'minimumNumberOfCalls',
      'slowCallDurationThreshold',
      'permittedNumberOfCallsInHalfOpenState',
      'maxWaitDurationInHalfOpenState',
      'durationOfBreak',
      'failureRatio',
      'minimumThroughput',
      'samplingDuration',
    ];
    expect(messages(Object.fromEntries(foreign.map((name) => [name, breaker({ [name]: 1 })]))))
      .toMatchInlineSnapshot(`
      {
        "breaker": "Unknown CircuitBreaker option "breaker". Did you mean \`failureThreshold\` (consecutive) or \`failureRateThreshold\` with \`window\` (sampling)? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "capacity": "Unknown CircuitBreaker option "capacity". Did you mean \`bulkhead({ maxConcurrent })\`, a policy to compose with the breaker? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "durationOfBreak": "Unknown CircuitBreaker option "durationOfBreak". Did you mean \`timeout\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "errorFilter": "Unknown CircuitBreaker option "errorFilter". Did you mean \`isFailure\` (note the inversion: opossum\`s errorFilter returns true to ignore an error, isFailure returns false)? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "errorThresholdPercentage": "Unknown CircuitBreaker option "errorThresholdPercentage". Did you mean \`failureRateThreshold\` (a percentage, as in opossum)? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "failureRatio": "Unknown CircuitBreaker option "failureRatio". Did you mean \`failureRateThreshold\` (a percentage: 0.5 becomes 50)? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "halfOpenAfter": "Unknown CircuitBreaker option "halfOpenAfter". Did you mean \`timeout\` (how long the breaker stays open; cockatiel calls it halfOpenAfter)? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "maxWaitDurationInHalfOpenState": "Unknown CircuitBreaker option "maxWaitDurationInHalfOpenState". Did you mean \`halfOpenPermitTimeout\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "minimumNumberOfCalls": "Unknown CircuitBreaker option "minimumNumberOfCalls". Did you mean \`minimumCalls\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "minimumThroughput": "Unknown CircuitBreaker option "minimumThroughput". Did you mean \`minimumCalls\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "permittedNumberOfCallsInHalfOpenState": "Unknown CircuitBreaker option "permittedNumberOfCallsInHalfOpenState". Did you mean \`halfOpenMaxConcurrent\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "rampUpDuration": "Unknown CircuitBreaker option "rampUpDuration". Did you mean \`recoveryDuration\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "resetTimeout": "Unknown CircuitBreaker option "resetTimeout". Did you mean \`timeout\` (how long the breaker stays open; opossum calls it resetTimeout)? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "rollingCountBuckets": "Unknown CircuitBreaker option "rollingCountBuckets". Did you mean \`window: { type: "time", duration, buckets }\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "rollingCountTimeout": "Unknown CircuitBreaker option "rollingCountTimeout". Did you mean \`window: { type: "time", duration }\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "samplingDuration": "Unknown CircuitBreaker option "samplingDuration". Did you mean \`window: { type: "time", duration }\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "slidingWindowSize": "Unknown CircuitBreaker option "slidingWindowSize". Did you mean \`window: { type: "count", size }\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "slidingWindowType": "Unknown CircuitBreaker option "slidingWindowType". Did you mean \`window: { type: "count" | "time" }\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "slowCallDurationThreshold": "Unknown CircuitBreaker option "slowCallDurationThreshold". Did you mean \`slowCallDuration\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "volumeThreshold": "Unknown CircuitBreaker option "volumeThreshold". Did you mean \`minimumCalls\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
        "waitDurationInOpenState": "Unknown CircuitBreaker option "waitDurationInOpenState". Did you mean \`timeout\`? Known options: name, failureThreshold, successThreshold, timeout, timeoutMultiplier, maxTimeout, timeoutJitter, halfOpenMaxConcurrent, halfOpenPermitTimeout, callTimeout, recoveryDuration, recoveryInitialRate, isFailure, window, minimumCalls, failureRateThreshold, slowCallDuration, slowCallRateThreshold, clock, random, store, initialState.",
      }
    `);
  });

  it('retry() and bulkhead()', () => {
    expect(
      messages({
        'retry attempts': () => retry({ attempts: 0 }),
        'retry baseDelay': () => retry({ baseDelay: -1 }),
        'retry maxDelay': () => retry({ maxDelay: 'soon' as never }),
        'retry retryOn': () => retry({ retryOn: true as never }),
        'retry budget ratio': () => retry({ budget: { ratio: -1 } }),
        'retry budget minPerSecond': () => retry({ budget: { minPerSecond: Number.NaN } }),
        'retry budget window': () => retry({ budget: { window: 0 } }),
        'retry random': () => retry({ random: 1 as never }),
        'retry maxAttempts': () => retry({ maxAttempts: 3 } as never),
        'retry retries': () => retry({ retries: 3 } as never),
        'retry initialDelay': () => retry({ initialDelay: 3 } as never),
        'retry minTimeout': () => retry({ minTimeout: 3 } as never),
        'retry maxTimeout': () => retry({ maxTimeout: 3 } as never),
        'retry shouldRetry': () => retry({ shouldRetry: 3 } as never),
        'retry handle': () => retry({ handle: 3 } as never),
        'bulkhead missing maxConcurrent': () => bulkhead({} as never),
        'bulkhead name': () => bulkhead({ maxConcurrent: 1, name: '' }),
        'bulkhead maxQueue': () => bulkhead({ maxConcurrent: 1, maxQueue: -1 }),
        'bulkhead queueTimeout': () => bulkhead({ maxConcurrent: 1, queueTimeout: 0 }),
        'bulkhead limit': () => bulkhead({ limit: 1 } as never),
        'bulkhead capacity': () => bulkhead({ capacity: 1 } as never),
        'bulkhead maxConcurrentCalls': () => bulkhead({ maxConcurrentCalls: 1 } as never),
        'bulkhead queue': () => bulkhead({ maxConcurrent: 1, queue: 1 } as never),
        'bulkhead maxQueueSize': () => bulkhead({ maxConcurrent: 1, maxQueueSize: 1 } as never),
        'bulkhead maxWaitDuration': () => bulkhead({ maxConcurrent: 1, maxWaitDuration: 1 } as never),
      }),
    ).toMatchInlineSnapshot(`
      {
        "bulkhead capacity": "Unknown bulkhead() option "capacity". Did you mean \`maxConcurrent\`? Known options: name, maxConcurrent, maxQueue, queueTimeout, clock.",
        "bulkhead limit": "Unknown bulkhead() option "limit". Did you mean \`maxConcurrent\` (cockatiel calls it limit)? Known options: name, maxConcurrent, maxQueue, queueTimeout, clock.",
        "bulkhead maxConcurrentCalls": "Unknown bulkhead() option "maxConcurrentCalls". Did you mean \`maxConcurrent\`? Known options: name, maxConcurrent, maxQueue, queueTimeout, clock.",
        "bulkhead maxQueue": "Invalid bulkhead() option "maxQueue": expected a whole number of at least 0; received -1.",
        "bulkhead maxQueueSize": "Unknown bulkhead() option "maxQueueSize". Did you mean \`maxQueue\`? Known options: name, maxConcurrent, maxQueue, queueTimeout, clock.",
        "bulkhead maxWaitDuration": "Unknown bulkhead() option "maxWaitDuration". Did you mean \`queueTimeout\`? Known options: name, maxConcurrent, maxQueue, queueTimeout, clock.",
        "bulkhead missing maxConcurrent": "Invalid bulkhead() option "maxConcurrent": expected a whole number of at least 1; received undefined.",
        "bulkhead name": "Invalid bulkhead() option "name": expected a non-empty string; received "".",
        "bulkhead queue": "Unknown bulkhead() option "queue". Did you mean \`maxQueue\`? Known options: name, maxConcurrent, maxQueue, queueTimeout, clock.",
        "bulkhead queueTimeout": "Invalid bulkhead() option "queueTimeout": expected a finite number of milliseconds of at least 1; received 0.",
        "retry attempts": "Invalid retry() option "attempts": expected a whole number of at least 1; received 0.",
        "retry baseDelay": "Invalid retry() option "baseDelay": expected a finite number of milliseconds of at least 0; received -1.",
        "retry budget minPerSecond": "Invalid retry() option "budget": expected an object { ratio, minPerSecond, window } or false; received an object.",
        "retry budget ratio": "Invalid retry() option "budget.ratio": expected a finite number of at least 0; received -1.",
        "retry budget window": "Invalid retry() option "budget.window": expected a finite number of milliseconds of at least 1; received 0.",
        "retry handle": "Unknown retry() option "handle". Did you mean \`retryOn\`? Known options: attempts, baseDelay, maxDelay, retryOn, budget, clock, random.",
        "retry initialDelay": "Unknown retry() option "initialDelay". Did you mean \`baseDelay\`? Known options: attempts, baseDelay, maxDelay, retryOn, budget, clock, random.",
        "retry maxAttempts": "Unknown retry() option "maxAttempts". Did you mean \`attempts\` (tries in all, the first included)? Known options: attempts, baseDelay, maxDelay, retryOn, budget, clock, random.",
        "retry maxDelay": "Invalid retry() option "maxDelay": expected a finite number of milliseconds of at least 0; received "soon".",
        "retry maxTimeout": "Unknown retry() option "maxTimeout". Did you mean \`maxDelay\`? Known options: attempts, baseDelay, maxDelay, retryOn, budget, clock, random.",
        "retry minTimeout": "Unknown retry() option "minTimeout". Did you mean \`baseDelay\`? Known options: attempts, baseDelay, maxDelay, retryOn, budget, clock, random.",
        "retry random": "Invalid retry() option "random": expected a function returning a number in [0, 1); received 1.",
        "retry retries": "Unknown retry() option "retries". Did you mean \`attempts\` (tries in all, the first included: retries + 1)? Known options: attempts, baseDelay, maxDelay, retryOn, budget, clock, random.",
        "retry retryOn": "Invalid retry() option "retryOn": expected a function (error) => boolean; received true.",
        "retry shouldRetry": "Unknown retry() option "shouldRetry". Did you mean \`retryOn\`? Known options: attempts, baseDelay, maxDelay, retryOn, budget, clock, random.",
      }
    `);
  });
});
