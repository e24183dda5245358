import type { IncomingMessage } from 'node:http';
import { BreakerRegistry, InvalidOptionError, systemClock, type Clock } from '@breaker/core';
import { describeValue } from '@breaker/core/http';
import type { AdminOptions } from './admin.js';

/** Options of `dashboard()`; `koaDashboard()` takes these and `path`. */
export interface DashboardOptions<Subject = IncomingMessage> {
  /** The breakers to show: pass the registry your middleware and metrics use. */
  registry: BreakerRegistry;
  /** Lets the page force breakers open and reset them, for requests `authorize` accepts. Off by default. */
  admin?: AdminOptions<Subject> | undefined;
  /**
   * `false` turns the dashboard off (its handler passes every request on). When `NODE_ENV` is
   * `production` the dashboard is off unless this is `true`, and leaving it out throws.
   */
  enabled?: boolean | undefined;
  /** Most event streams open at once; one more gets `503` (default 10). */
  maxClients?: number | undefined;
  /** Source of time and timers, as in the breaker's options (default the system clock). */
  clock?: Clock | undefined;
}

/** Options after defaults. */
export interface ResolvedDashboardOptions<Subject> {
  registry: BreakerRegistry;
  admin: AdminOptions<Subject> | undefined;
  enabled: boolean;
  maxClients: number;
  clock: Clock;
}

export const DEFAULT_MAX_CLIENTS = 10;

const KNOWN = ['registry', 'admin', 'enabled', 'maxClients', 'clock'];
const HINTS: Record<string, string> = {
  authorize: 'Did you mean "admin: { authorize }"?',
  auth: 'Did you mean "admin: { authorize }"?',
  enable: 'Did you mean "enabled"?',
  maxConnections: 'Did you mean "maxClients"?',
  maxStreams: 'Did you mean "maxClients"?',
  breakers: 'Did you mean "registry"?',
};

/** Checks the options once, when the dashboard is made, and fills in the defaults. */
export function resolveDashboardOptions<Subject>(
  options: DashboardOptions<Subject> | undefined,
  context: string,
  more: { known?: string[]; hints?: Record<string, string> } = {},
): ResolvedDashboardOptions<Subject> {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError(
      'registry',
      `Invalid ${context} options: expected an object with a "registry"; received ${describeValue(options)}.`,
    );
  }
  const {
    registry,
    admin,
    enabled,
    maxClients = DEFAULT_MAX_CLIENTS,
    clock = systemClock,
    ...rest
  } = options;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) {
    const hint = more.hints?.[unknown] ?? HINTS[unknown];
    throw new InvalidOptionError(
      unknown,
      `Unknown ${context} option "${unknown}".${hint === undefined ? '' : ` ${hint}`} ` +
        `Known options: ${[...KNOWN, ...(more.known ?? [])].join(', ')}.`,
    );
  }
  if (!(registry instanceof BreakerRegistry))
    throw invalid(context, 'registry', 'a BreakerRegistry', registry);
  if (
    admin !== undefined &&
    (typeof admin !== 'object' || admin === null || typeof admin.authorize !== 'function')
  ) {
    throw invalid(context, 'admin', 'an object with an authorize(request) function', admin);
  }
  if (enabled !== undefined && typeof enabled !== 'boolean')
    throw invalid(context, 'enabled', 'a boolean', enabled);
  if (enabled === undefined && process.env.NODE_ENV === 'production') {
    throw new InvalidOptionError(
      'enabled',
      `Invalid ${context} option "enabled": the dashboard is off in production (NODE_ENV is "production") ` +
        'unless you pass enabled: true, ideally behind your own authentication; received undefined.',
    );
  }
  if (!Number.isInteger(maxClients) || maxClients < 1) {
    throw invalid(context, 'maxClients', 'a whole number of at least 1', maxClients);
  }
  if (!isClock(clock))
    throw invalid(context, 'clock', 'an object with now(), setTimeout() and clearTimeout()', clock);
  return { registry, admin, enabled: enabled !== false, maxClients, clock };
}

function isClock(value: unknown): value is Clock {
  const candidate = value as Partial<Record<'now' | 'setTimeout' | 'clearTimeout', unknown>> | null;
  return (
    typeof value === 'object' &&
    candidate !== null &&
    typeof candidate.now === 'function' &&
    typeof candidate.setTimeout === 'function' &&
    typeof candidate.clearTimeout === 'function'
  );
}

/** An {@link InvalidOptionError} naming the option, what is allowed and what was received. */
export function invalid(
  context: string,
  option: string,
  allowed: string,
  received: unknown,
): InvalidOptionError {
  return new InvalidOptionError(
    option,
    `Invalid ${context} option "${option}": expected ${allowed}; received ${describeValue(received)}.`,
  );
}
