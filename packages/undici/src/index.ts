export {
  circuitBreaker,
  UpstreamStatusError,
  type BreakerInterceptor,
  type InterceptorOptions,
} from './interceptor.js';
export { koaProxy, proxy, type KoaLike, type ProxyHandler, type ProxyOptions } from './proxy.js';
export { upstreamPath } from './path.js';
