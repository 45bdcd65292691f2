-- The web funnel per day, from the click sessions: sessions, sessions that viewed a product, that
-- added to the cart and that purchased, and the conversion rate (purchasing sessions over all).
-- Athena (Trino) SQL, resolved in the gold database; days in UTC (the sessions' partition, so a
-- query of some days reads only their files).
SELECT
  session_date,
  count(*) AS sessions,
  count_if(product_views > 0) AS viewing_sessions,
  count_if(added_to_cart > 0) AS cart_sessions,
  count_if(purchased) AS purchasing_sessions,
  CAST(count_if(purchased) AS double) / count(*) AS conversion_rate
FROM clickstream_sessions
GROUP BY session_date
