-- The latest identity of every market seen on the day, with first and last day seen over all partitions.
SELECT m.market_id, m.condition_id, m.event_id, m.slug, m.question, m.category, m.yes_token_id, m.no_token_id,
       s.first_seen_dt, s.last_seen_dt
FROM (SELECT market_id, min(dt) AS first_seen_dt, max(dt) AS last_seen_dt FROM core.markets
      WHERE market_id IN (SELECT market_id FROM core.markets WHERE dt = $dt) GROUP BY market_id) s
JOIN core.markets m ON m.market_id = s.market_id AND m.dt = s.last_seen_dt
ORDER BY m.market_id
