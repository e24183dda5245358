export { dashboard, type DashboardHandler } from './dashboard.js';
export {
  koaDashboard,
  DEFAULT_KOA_PATH,
  type KoaDashboardMiddleware,
  type KoaDashboardOptions,
} from './koa.js';
export { DEFAULT_MAX_CLIENTS, type DashboardOptions } from './options.js';
export type { AdminAction, AdminOptions } from './admin.js';
export {
  HISTORY_SECONDS,
  TRANSITIONS_KEPT,
  type BreakerView,
  type HistoryPoint,
  type TransitionRecord,
} from './monitor.js';
