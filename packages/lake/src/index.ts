export { InvalidKeyError, ObjectNotFoundError, StorageError } from './errors.js';
export { MemoryStorage } from './memory-storage.js';
export type { Body, GetOptions, ListOptions, ObjectInfo, PutOptions, Storage } from './storage.js';
export { assertValidKey, bodyToBytes, compareKeys } from './storage.js';
