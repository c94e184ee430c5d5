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
      code: 'ARGUMENT_INVALID',
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

// String.prototype.isWellFormed (V8 11.3, every Node this project supports) is ES2024, past the lib
// the project compiles against.
const wellFormed = (String.prototype as unknown as { isWellFormed: (this: string) => boolean }).isWellFormed;

/**
 * Whether `text` holds no lone UTF-16 surrogate, so it has a UTF-8 form and is stored unchanged
 * (every encoder writes U+FFFD for a lone surrogate).
 *
 * @example
 * ```ts
 * isWellFormedText('🌊'); // true
 * isWellFormedText('\uD83C'); // false
 * ```
 */
export function isWellFormedText(text: string): boolean {
  return wellFormed.call(text);
}

/**
 * The offset of the first byte of `bytes` that does not start or continue a well-formed UTF-8
 * sequence, or -1 when all of `bytes` is well-formed UTF-8 (what `TextDecoder` with
 * `fatal: true` accepts). Overlong forms, encoded UTF-16 surrogates (U+D800–U+DFFF), code points
 * above U+10FFFF and a sequence cut short (by another byte or by the end) are ill-formed; the
 * offset is where the ill-formed sequence starts: in `caf` followed by a Latin-1 `é` (0xE9), 3.
 * Internal to core (the NDJSON line reader's error says where a line stops being UTF-8).
 */
export function utf8InvalidOffset(bytes: Uint8Array): number {
  const length = bytes.length;
  let index = 0;
  while (index < length) {
    const lead = bytes[index] as number;
    if (lead < 0x80) {
      index++;
      continue;
    }
    // The second byte's range depends on the lead (Unicode 15, table 3-7).
    let size: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) size = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      size = 3;
      if (lead === 0xe0) low = 0xa0;
      else if (lead === 0xed) high = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      size = 4;
      if (lead === 0xf0) low = 0x90;
      else if (lead === 0xf4) high = 0x8f;
    } else return index;
    if (index + size > length) return index;
    const second = bytes[index + 1] as number;
    if (second < low || second > high) return index;
    for (let k = 2; k < size; k++) {
      const next = bytes[index + k] as number;
      if (next < 0x80 || next > 0xbf) return index;
    }
    index += size;
  }
  return -1;
}
