export type { LocalErrorCode, LocalServerName } from './errors.js';
export { LocalStartError, PortTakenError } from './errors.js';
export { freePort } from './free-port.js';
export type {
  KinesaliteClientConfig,
  KinesaliteServer,
  KinesaliteStream,
  StartKinesaliteOptions,
} from './kinesalite.js';
export { startKinesalite } from './kinesalite.js';
export type { MotoServer, StartMotoServerOptions } from './moto-server.js';
export { startMotoServer } from './moto-server.js';
export type { PostgresServer, StartPostgresOptions } from './postgres.js';
export { startPostgres } from './postgres.js';
export type { S3rverServer, StartS3rverOptions } from './s3rver.js';
export { startS3rver } from './s3rver.js';
export type { TerminatingPool } from './terminating-pool.js';
export { terminatingPool } from './terminating-pool.js';
