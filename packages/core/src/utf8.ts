import { describeValue, TributaryError } from './errors.js';

/**
 * The number of bytes `text` takes once encoded as UTF-8, counted without encoding it.
 *
 * Counts what `TextEncoder` and `Buffer.byteLength(text, 'utf8')` produce: a surrogate pair
 * is 4 bytes, and a lone surrogate is 3 bytes because it is encoded as U+FFFD. Service limits
 * (Kinesis, Firehose, S3 parts) are in bytes, not in JavaScript string length.
 *
 * @example
 * ```ts
 * utf8ByteLength('temp=21.5°C'); // 12: "°" takes 2 bytes
 * utf8ByteLength('🌊'); // 4
 * ```
 */
export function utf8ByteLength(text: string): number {
  if (typeof text !== 'string') {
    throw new TributaryError(`utf8ByteLength expects a string, got ${describeValue(text)}`, {
      code: 'INVALID_ARGUMENT',
    });
  }
  const length = text.length;
  let bytes = 0;
  for (let index = 0; index < length; index++) {
    const code = text.charCodeAt(index);
    if (code < 0x80) {
      bytes += 1;
    } else if (code < 0x800) {
      bytes += 2;
    } else if (code >= 0xd800 && code <= 0xdbff && index + 1 < length) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        index++;
      } else {
        // A high surrogate not followed by a low one is replaced by U+FFFD.
        bytes += 3;
      }
    } else {
      // Rest of the BMP, and lone surrogates (replaced by U+FFFD): 3 bytes each.
      bytes += 3;
    }
  }
  return bytes;
}
