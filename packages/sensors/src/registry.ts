import {
  assertSensorType,
  DuplicateSensorTypeError,
  type SensorType,
  UnknownSensorTypeError,
} from './sensor-type.js';

/**
 * The sensor types an application knows, by name. Start from {@link defaultSensorTypes} (the
 * three built-ins) or an empty registry, and register your own; each registry is independent,
 * so registering never changes another module's view.
 *
 * @example
 * ```ts
 * const vibration = defineSensorType({ name: 'vibration', unit: 'mm/s', range: { min: 0, max: 45 }, model: ({ prng }) => prng.uniform(0.5, 6) });
 * const types = defaultSensorTypes().register(vibration);
 * types.get('vibration').unit; // 'mm/s'
 * const fleet = new Fleet({ types, sensorsPerType: 3, ratePerSecond: 10, seed: 7 });
 * ```
 */
export class SensorTypeRegistry implements Iterable<SensorType> {
  readonly #types = new Map<string, SensorType>();

  constructor(types: Iterable<SensorType> = []) {
    for (const type of types) this.register(type);
  }

  /** Adds a type; a name already registered is a {@link DuplicateSensorTypeError}. Returns the registry. */
  register(type: SensorType): this {
    assertSensorType(type);
    if (this.#types.has(type.name)) throw new DuplicateSensorTypeError(type.name);
    this.#types.set(type.name, type);
    return this;
  }

  /** The type of that name; an {@link UnknownSensorTypeError} when none is registered. */
  get(name: string): SensorType {
    const type = this.#types.get(name);
    if (type === undefined) throw new UnknownSensorTypeError(name, [...this.#types.keys()]);
    return type;
  }

  has(name: string): boolean {
    return this.#types.has(name);
  }

  /** The registered types, in registration order. */
  list(): SensorType[] {
    return [...this.#types.values()];
  }

  get size(): number {
    return this.#types.size;
  }

  [Symbol.iterator](): Iterator<SensorType> {
    return this.#types.values();
  }
}
