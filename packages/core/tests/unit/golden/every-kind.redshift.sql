CREATE TABLE IF NOT EXISTS "curated"."every_kind" (
  "id" VARCHAR(64) NOT NULL,
  "active" BOOLEAN NOT NULL,
  "rank" INTEGER,
  "volume" BIGINT NOT NULL,
  "value" DOUBLE PRECISION NOT NULL,
  "price" DECIMAL(38,18),
  "small" DECIMAL(9,2) NOT NULL,
  "mid" DECIMAL(18,4) NOT NULL,
  "at" TIMESTAMPTZ NOT NULL,
  "day" DATE NOT NULL,
  "tags" SUPER,
  "counts" SUPER,
  PRIMARY KEY ("id")
)
DISTSTYLE KEY
DISTKEY ("id")
COMPOUND SORTKEY ("at", "day");
