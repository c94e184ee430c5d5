// The `@tributary/streams/firehose` entry: everything that needs `@aws-sdk/client-firehose`, kept
// out of the main entry so that a user installs only the AWS clients they use.

export type { FirehoseProducerOptions } from './firehose-producer.js';
export { FirehoseProducer } from './firehose-producer.js';
export type { DeliveryStreamInputOptions, FirehoseLogging } from './firehose-setup.js';
export { createDeliveryStreamInput, FirehoseSetupError } from './firehose-setup.js';
