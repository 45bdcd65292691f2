-- One row per product: units sold, revenue, orders and margin over its buy price (lines that are
-- not cancelled), with the views, carts and purchases of its pages. Athena (Trino) SQL, resolved
-- in the gold database.
WITH sales AS (
  SELECT
    product_key,
    sum(quantity_ordered) AS units,
    sum(amount) AS revenue,
    count(DISTINCT order_number) AS orders
  FROM fact_order_line
  WHERE status <> 'Cancelled'
  GROUP BY product_key
),
web AS (
  SELECT
    product_code,
    sum(views) AS views,
    sum(add_to_carts) AS add_to_carts,
    sum(purchases) AS web_purchases
  FROM daily_product_views
  GROUP BY product_code
)
SELECT
  p.product_code,
  p.product_name,
  p.product_line,
  coalesce(s.units, 0) AS units,
  CAST(coalesce(s.revenue, 0) AS decimal(18, 2)) AS revenue,
  coalesce(s.orders, 0) AS orders,
  CAST(coalesce(s.revenue, 0) - coalesce(s.units, 0) * p.buy_price AS decimal(18, 2)) AS gross_margin,
  coalesce(w.views, 0) AS views,
  coalesce(w.add_to_carts, 0) AS add_to_carts,
  coalesce(w.web_purchases, 0) AS web_purchases
FROM dim_product AS p
LEFT JOIN sales AS s ON s.product_key = p.product_key
LEFT JOIN web AS w ON w.product_code = p.product_code
