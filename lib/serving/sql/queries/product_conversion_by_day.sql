-- Product page views, purchases and their conversion per day, the latest week first.
SELECT
  event_date,
  sum(views) AS views,
  sum(purchases) AS purchases,
  round(CAST(sum(purchases) AS double) / nullif(sum(views), 0), 4) AS conversion
FROM daily_product_views
GROUP BY event_date
ORDER BY event_date DESC
LIMIT 7
