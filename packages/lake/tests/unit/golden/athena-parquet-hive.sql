CREATE EXTERNAL TABLE IF NOT EXISTS `processed`.`sensors` (
  `id` string COMMENT 'the reading\'s id',
  `sensor_id` string,
  `type` string,
  `value` double,
  `price` decimal(12,4),
  `tags` array<string>,
  `timestamp` timestamp
)
PARTITIONED BY (
  `dt` string,
  `hour` string
)
ROW FORMAT SERDE 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe'
STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat'
  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat'
LOCATION 's3://tributary-processed/sensors/'
TBLPROPERTIES (
  'classification'='parquet'
)
