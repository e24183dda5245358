import { describe, expect, it } from 'vitest';
import { ManualClock } from '../testing.js';
import { bulkhead } from './BulkheadPolicy.js';
import { BulkheadRejectedError } from './BulkheadRejectedError.js';

describe('bulkhead rejections', () => {
  it('carry the error`s own name, and a bulkhead named by default is called "bulkhead"', async () => {
    const policy = bulkhead({ clock: new ManualClock(), maxConcurrent: 1 });
    expect(policy.name).toBe('bulkhead');
    expect(policy.stats().name).toBe('bulkhead');
    void policy.execute(() => new Promise(() => {}));
    const error = (await policy.execute(() => 'x').catch((e: unknown) => e)) as BulkheadRejectedError;
    expect(error).toBeInstanceOf(BulkheadRejectedError);
    expect(error.name).toBe('BulkheadRejectedError');
    expect(error.bulkhead).toBe('bulkhead');
    expect(String(error)).toBe(
      'BulkheadRejectedError: Bulkhead "bulkhead" is full: every slot is busy and its queue has no room',
    );
  });

  it('leave the process`s stack trace limit as it was', async () => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 17;
    try {
      const policy = bulkhead({ clock: new ManualClock(), maxConcurrent: 1 });
      void policy.execute(() => new Promise(() => {}));
      await expect(policy.execute(() => 'x')).rejects.toBeInstanceOf(BulkheadRejectedError);
      expect(Error.stackTraceLimit).toBe(17);
    } finally {
      Error.stackTraceLimit = limit;
    }
  });
});
