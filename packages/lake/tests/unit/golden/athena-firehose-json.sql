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
  'compressionType'='gzip'
)
