import { type ErrorContext, TributaryError } from '@tributary/core';

// Every error class of the sensors package, and the codes they carry. Wrong options are core's
// OptionsError (`FLEET_OPTIONS_INVALID`, `SENSOR_TRANSFORM_OPTIONS_INVALID`).

/**
 * A sensor model failed or returned a value that is not a finite number (`SENSOR_MODEL_FAILED`,
 * with `context.sensorId` and `cause`). Wrong fleet options are core's `OptionsError`
 * (`FLEET_OPTIONS_INVALID`, `option` names the option).
 *
 * @example
 * ```ts
 * const broken = defineSensorType({
 *   name: 'broken',
 *   unit: 'V',
 *   range: { min: 0, max: 1 },
 *   model: () => Number.NaN,
 * });
 * try { for (const record of generateRecords({ types: [broken], ratePerSecond: 1, seed: 1, records: 1 })) console.log(record); }
 * catch (err) { if (err instanceof FleetError) console.log(err.code, err.context.sensorId); } // SENSOR_MODEL_FAILED ...
 * ```
 */
export class FleetError extends TributaryError {
  override name = 'FleetError';

  constructor(
    message: string,
    options: { code?: string; cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, {
      code: options.code ?? 'SENSOR_MODEL_FAILED',
      cause: options.cause,
      context: options.context,
    });
  }
}

/**
 * A sensor type's definition is wrong (name, unit, range, decimals or model), or a registry was
 * given something that is not a sensor type. `context.sensorType` names the type when known.
 *
 * @example
 * ```ts
 * try { defineSensorType({ name: 'Vibration!', unit: 'mm/s', range: { min: 0, max: 50 }, model: () => 1 }); }
 * catch (err) { if (err instanceof SensorTypeError) console.log(err.code); } // SENSOR_TYPE_INVALID
 * ```
 */
export class SensorTypeError extends TributaryError {
  override name = 'SensorTypeError';

  constructor(message: string, options: { code?: string; sensorType?: string; cause?: unknown } = {}) {
    super(message, {
      code: options.code ?? 'SENSOR_TYPE_INVALID',
      cause: options.cause,
      context: options.sensorType === undefined ? {} : { sensorType: options.sensorType },
    });
  }
}

/**
 * A registry (or a fleet's list of types) already holds a type of that name.
 *
 * @example
 * ```ts
 * try {
 *   defaultSensorTypes().register(temperatureSensorType);
 * } catch (err) {
 *   if (err instanceof DuplicateSensorTypeError) console.log(err.context.sensorType); // 'temperature'
 *   else throw err;
 * }
 * ```
 */
export class DuplicateSensorTypeError extends SensorTypeError {
  override name = 'DuplicateSensorTypeError';

  constructor(sensorType: string) {
    super(`A sensor type named ${JSON.stringify(sensorType)} is already registered`, {
      code: 'SENSOR_TYPE_DUPLICATE',
      sensorType,
    });
  }
}

/**
 * No sensor type of that name is registered.
 *
 * @example
 * ```ts
 * try {
 *   defaultSensorTypes().get('temprature');
 * } catch (err) {
 *   if (err instanceof UnknownSensorTypeError) console.log(err.known); // ['temperature', ...]
 *   else throw err;
 * }
 * ```
 */
export class UnknownSensorTypeError extends SensorTypeError {
  override name = 'UnknownSensorTypeError';
  /** The names that are registered, to spot a typo. */
  readonly known: readonly string[];

  constructor(sensorType: string, known: readonly string[]) {
    super(`No sensor type named ${JSON.stringify(sensorType)} (registered: ${known.join(', ') || 'none'})`, {
      code: 'SENSOR_TYPE_UNKNOWN',
      sensorType,
    });
    this.known = Object.freeze([...known]);
  }
}

/**
 * A sensor transform cannot run: the processed table is not partitioned by `dt` and `hour`
 * (`SENSOR_TRANSFORM_LAYOUT`, `context.key`), or reading failed or the input changed during the
 * run (`SENSOR_TRANSFORM_FAILED`, with `cause`). Storage and dataset errors of the lake reach the
 * caller as they are. A wrong option is core's `OptionsError` (`SENSOR_TRANSFORM_OPTIONS_INVALID`,
 * `option` names it). A raw object outside the Firehose layout does not stop a run: it is
 * reported in `unreadObjects` and by a `failure` event whose `error` is a `SensorTransformError`
 * with code `SENSOR_RAW_OBJECT_UNREAD` and `context.key` and `context.reason`.
 *
 * @example
 * ```ts
 * try { await processedToCurated({ processed: lake.processed, curated: lake.curated }); }
 * catch (err) { if (err instanceof SensorTransformError) console.log(err.code, err.context.key); } // SENSOR_TRANSFORM_LAYOUT ...
 * ```
 */
export class SensorTransformError extends TributaryError {
  override name = 'SensorTransformError';

  constructor(message: string, options: { code?: string; context?: ErrorContext; cause?: unknown } = {}) {
    super(message, {
      code: options.code ?? 'SENSOR_TRANSFORM_FAILED',
      context: options.context,
      cause: options.cause,
    });
  }
}

/**
 * Every code the sensors package's errors carry. `<AREA>_OPTIONS_INVALID` is a wrong option
 * (core's `OptionsError`), `<THING>_INVALID` wrong data. The `error_code`s of the errors table
 * (`INVALID_JSON`, `INVALID_RECORD`, `OUT_OF_WINDOW`) are data shared with the Spark jobs, not
 * error codes.
 *
 * @example
 * ```ts
 * const fatal: readonly SensorsErrorCode[] = ['SENSOR_MODEL_FAILED', 'SENSOR_TRANSFORM_LAYOUT'];
 * ```
 */
export type SensorsErrorCode =
  | 'FLEET_OPTIONS_INVALID'
  | 'SENSOR_MODEL_FAILED'
  | 'SENSOR_TYPE_INVALID'
  | 'SENSOR_TYPE_DUPLICATE'
  | 'SENSOR_TYPE_UNKNOWN'
  | 'SENSOR_TRANSFORM_OPTIONS_INVALID'
  | 'SENSOR_TRANSFORM_FAILED'
  | 'SENSOR_TRANSFORM_LAYOUT'
  | 'SENSOR_RAW_OBJECT_UNREAD'
  | 'SENSOR_RECORD_INVALID'
  | 'SENSOR_INVALID'
  | 'PRNG_INVALID';
