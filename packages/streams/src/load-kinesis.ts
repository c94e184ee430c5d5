type KinesisModule = typeof import('@aws-sdk/client-kinesis');
let kinesisModule: Promise<KinesisModule> | undefined;

/** The Kinesis client module, loaded on first use so that importing @tributary/streams never needs the optional peer. */
export function loadKinesis(): Promise<KinesisModule> {
  kinesisModule ??= import('@aws-sdk/client-kinesis');
  return kinesisModule;
}
