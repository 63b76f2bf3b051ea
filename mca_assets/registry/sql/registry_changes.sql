-- Tracked fields whose value on a day differs from the previous day the market was seen (any order of
-- backfills gives the same rows: each change is computed from the whole core.markets history).
WITH seen AS (
    SELECT dt, market_id, slug, question, category, condition_id, event_id FROM core.markets
), unpivoted AS (
    UNPIVOT seen ON slug, question, category, condition_id, event_id INTO NAME field VALUE new_value
), lagged AS (
    SELECT dt, market_id, field, new_value,
           lag(new_value) OVER (PARTITION BY market_id, field ORDER BY dt) AS old_value,
           lag(dt) OVER (PARTITION BY market_id, field ORDER BY dt) AS previous_dt
    FROM unpivoted
)
SELECT dt, market_id, field, old_value, new_value, previous_dt
FROM lagged
WHERE dt = $dt AND previous_dt IS NOT NULL AND old_value IS DISTINCT FROM new_value
ORDER BY market_id, field
