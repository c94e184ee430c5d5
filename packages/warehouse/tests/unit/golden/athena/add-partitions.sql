ALTER TABLE `processed`.`sensors` ADD IF NOT EXISTS
  PARTITION (`we``ird` = 'it\'s') LOCATION 's3://tributary-processed/sensors/we`ird=it\'s/'
  PARTITION (`we``ird` = 'back\\slash') LOCATION 's3://tributary-processed/sensors/x/'
