import { describe, expect, it } from 'vitest';
import {
  builtInSensorTypes,
  defaultSensorTypes,
  hydraulicPressureSensorType,
  powerFactorSensorType,
  temperatureSensorType,
} from '../../src/models.js';
import { Prng } from '../../src/prng.js';
import { SensorTypeRegistry } from '../../src/registry.js';
import {
  DuplicateSensorTypeError,
  defineSensorType,
  type SensorType,
  SensorTypeError,
  UnknownSensorTypeError,
} from '../../src/sensor-type.js';

const constant = (value: number) =>
  defineSensorType({ name: 'constant', unit: 'x', range: { min: 0, max: 10 }, model: () => value });

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('defineSensorType', () => {
  it('returns a frozen type with the definition and a normalized model', () => {
    const type = defineSensorType({
      name: 'vibration_rms',
      unit: 'mm/s',
      range: { min: 0, max: 45 },
      description: 'RMS vibration',
      decimals: 2,
      model: { init: ({ index }) => ({ gain: index + 1 }), sample: ({ state }) => state.gain * 2 },
    });

    expect(type).toMatchObject({
      name: 'vibration_rms',
      unit: 'mm/s',
      range: { min: 0, max: 45 },
      description: 'RMS vibration',
      decimals: 2,
    });
    expect(Object.isFrozen(type)).toBe(true);
    expect(Object.isFrozen(type.range)).toBe(true);
    expect(Object.isFrozen(type.model)).toBe(true);
    const prng = new Prng(1);
    const state = type.model.init({ sensorId: 'vibration_rms-002', index: 1, prng });
    expect(state).toEqual({ gain: 2 });
    expect(
      type.model.sample({ state, time: 0, elapsedMs: 0, hourOfDay: 0, sequence: 0, sensorId: 's', prng }),
    ).toBe(4);
  });

  it('accepts a plain function as a stateless model', () => {
    const type = constant(3);
    const prng = new Prng(1);

    expect(type.model.init({ sensorId: 'constant-001', index: 0, prng })).toBeUndefined();
    expect(
      type.model.sample({
        state: undefined,
        time: 0,
        elapsedMs: 0,
        hourOfDay: 0,
        sequence: 0,
        sensorId: 's',
        prng,
      }),
    ).toBe(3);
  });

  it('keeps `this` for models written as methods', () => {
    const model = {
      offset: 7,
      sample(this: { offset: number }) {
        return this.offset;
      },
    };
    const type = defineSensorType({ name: 'methods', unit: '', range: { min: 0, max: 10 }, model });

    expect(
      type.model.sample({
        state: undefined,
        time: 0,
        elapsedMs: 0,
        hourOfDay: 0,
        sequence: 0,
        sensorId: 's',
        prng: new Prng(1),
      }),
    ).toBe(7);
  });

  it.each([
    ['an upper-case name', { name: 'Temperature' }],
    ['a name with a dash', { name: 'vibration-rms' }],
    ['a name starting with a digit', { name: '1wire' }],
    ['a name that is too long', { name: 'a'.repeat(49) }],
    ['a unit that is too long', { unit: 'u'.repeat(33) }],
    ['a missing range', { range: undefined }],
    ['min equal to max', { range: { min: 1, max: 1 } }],
    ['min above max', { range: { min: 2, max: 1 } }],
    ['an infinite bound', { range: { min: 0, max: Number.POSITIVE_INFINITY } }],
    ['a NaN bound', { range: { min: Number.NaN, max: 1 } }],
    ['fractional decimals', { decimals: 1.5 }],
    ['too many decimals', { decimals: 13 }],
    ['a model without sample', { model: { init: () => 1 } }],
    ['a model init that is not a function', { model: { init: 3, sample: () => 1 } }],
    ['a number as model', { model: 3 }],
    ['a description that is not a string', { description: 3 }],
  ])('rejects %s with SENSOR_TYPE_INVALID', (_, override) => {
    const definition = { name: 'ok', unit: 'u', range: { min: 0, max: 1 }, model: () => 0, ...override };

    const error = caught(() => defineSensorType(definition as never));

    expect(error).toBeInstanceOf(SensorTypeError);
    expect((error as SensorTypeError).code).toBe('SENSOR_TYPE_INVALID');
  });
});

describe('SensorTypeRegistry', () => {
  describe('register', () => {
    it('adds types that get, has and list then see, in registration order', () => {
      const a = defineSensorType({ name: 'a', unit: '', range: { min: 0, max: 1 }, model: () => 0 });
      const b = defineSensorType({ name: 'b', unit: '', range: { min: 0, max: 1 }, model: () => 0 });

      const registry = new SensorTypeRegistry().register(b).register(a);

      expect(registry.get('a')).toBe(a);
      expect(registry.has('b')).toBe(true);
      expect(registry.has('c')).toBe(false);
      expect(registry.list()).toEqual([b, a]);
      expect([...registry]).toEqual([b, a]);
      expect(registry.size).toBe(2);
    });

    it('rejects a second type of the same name with DuplicateSensorTypeError', () => {
      const registry = new SensorTypeRegistry([constant(1)]);

      const error = caught(() => registry.register(constant(2)));

      expect(error).toBeInstanceOf(DuplicateSensorTypeError);
      expect(error).toBeInstanceOf(SensorTypeError);
      expect((error as DuplicateSensorTypeError).code).toBe('SENSOR_TYPE_DUPLICATE');
      expect((error as DuplicateSensorTypeError).context.sensorType).toBe('constant');
      expect(registry.get('constant').model.sample({} as never)).toBe(1);
    });

    it('rejects duplicates given to the constructor', () => {
      expect(() => new SensorTypeRegistry([constant(1), constant(2)])).toThrow(DuplicateSensorTypeError);
    });

    it('rejects something that is not a sensor type', () => {
      const error = caught(() =>
        new SensorTypeRegistry().register({ name: 'x', unit: '', range: { min: 0, max: 1 } } as never),
      );

      expect(error).toBeInstanceOf(SensorTypeError);
      expect((error as SensorTypeError).code).toBe('SENSOR_TYPE_INVALID');
    });
  });

  describe('get', () => {
    it('throws UnknownSensorTypeError naming the known types', () => {
      const registry = defaultSensorTypes();

      const error = caught(() => registry.get('temprature'));

      expect(error).toBeInstanceOf(UnknownSensorTypeError);
      expect((error as UnknownSensorTypeError).code).toBe('SENSOR_TYPE_UNKNOWN');
      expect((error as UnknownSensorTypeError).known).toEqual([
        'temperature',
        'power_factor',
        'hydraulic_pressure',
      ]);
      expect((error as Error).message).toContain('temprature');
    });
  });
});

describe('defaultSensorTypes', () => {
  it('holds the three built-in types with their units and ranges', () => {
    const registry = defaultSensorTypes();

    expect(registry.list().map((t) => [t.name, t.unit, t.range.min, t.range.max])).toEqual([
      ['temperature', '°C', -40, 85],
      ['power_factor', '1', 0.7, 1],
      ['hydraulic_pressure', 'bar', 0, 350],
    ]);
    expect(registry.get('temperature')).toBe(temperatureSensorType);
    expect(registry.get('power_factor')).toBe(powerFactorSensorType);
    expect(registry.get('hydraulic_pressure')).toBe(hydraulicPressureSensorType);
  });

  it('returns an independent registry each time, so a user type never leaks into others', () => {
    const mine = defaultSensorTypes();

    mine.register(constant(1));

    expect(mine.has('constant')).toBe(true);
    expect(defaultSensorTypes().has('constant')).toBe(false);
    expect(builtInSensorTypes.map((t) => t.name)).toEqual([
      'temperature',
      'power_factor',
      'hydraulic_pressure',
    ]);
    expect(Object.isFrozen(builtInSensorTypes)).toBe(true);
  });

  it('accepts the built-ins where a SensorType of any state is expected', () => {
    const list: SensorType[] = [temperatureSensorType, powerFactorSensorType, hydraulicPressureSensorType];

    expect(new SensorTypeRegistry(list).size).toBe(3);
  });
});
