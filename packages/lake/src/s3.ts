// The `@tributary/lake/s3` entry: everything that loads the AWS SDK, kept out of the main entry so
// that local-only users need no @aws-sdk package installed.

export { parseS3Url, s3Lake } from './s3-lake.js';
export type { S3StorageOptions } from './s3-storage.js';
export { S3Storage } from './s3-storage.js';
