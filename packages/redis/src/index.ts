export { RedisStore, type RedisStoreEvents, type RedisStoreOptions } from './RedisStore.js';
