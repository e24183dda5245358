export { RedisStore, type RedisStoreEvents } from './RedisStore.js';
export type { ClusterNodeAddress, RedisStoreOptions, SentinelConnection } from './options.js';
