-- The ten customers with the highest lifetime revenue, with their orders and sales rep.
SELECT customer_number, customer_name, country, lifetime_revenue, orders, last_order_date, sales_rep
FROM customer_360
ORDER BY lifetime_revenue DESC, customer_number
LIMIT 10
