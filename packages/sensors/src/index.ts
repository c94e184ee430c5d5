export type { SensorRecord } from './record.js';
export { sensorRecordId, sensorRecordSchema } from './record.js';
