CREATE EXTERNAL TABLE IF NOT EXISTS `raw`.`sensors` (
  `id` string,
  `sensorId` string,
  `value` double,
  `timestamp` string,
  `meta` struct<fw:string,rev:bigint>
)
PARTITIONED BY (
  `year` string,
  `month` string,
  `day` string,
  `hour` string
)
ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://tributary-raw/sensors/'
TBLPROPERTIES (
  'classification'='json',
  'compressionType'='gzip',
  'projection.enabled'='true',
  'projection.year.type'='date',
  'projection.year.format'='yyyy',
  'projection.year.range'='2025,NOW',
  'projection.year.interval'='1',
  'projection.year.interval.unit'='YEARS',
  'projection.month.type'='integer',
  'projection.month.range'='1,12',
  'projection.month.digits'='2',
  'projection.day.type'='integer',
  'projection.day.range'='1,31',
  'projection.day.digits'='2',
  'projection.hour.type'='integer',
  'projection.hour.range'='0,23',
  'projection.hour.digits'='2',
  'storage.location.template'='s3://tributary-raw/sensors/${year}/${month}/${day}/${hour}/'
)
