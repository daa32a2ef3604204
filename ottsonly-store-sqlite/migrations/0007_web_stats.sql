-- The dashboard's range queries (`shop_stats`): orders placed / refunded in a period, top-ups
-- paid in a period, users who joined in a period, and low stock among active products.
CREATE INDEX orders_created ON orders (created_at, product_id);
CREATE INDEX orders_refunded ON orders (refunded_at) WHERE refunded_at IS NOT NULL;
CREATE INDEX topups_paid ON topups (paid_at) WHERE paid_at IS NOT NULL;
CREATE INDEX users_created ON users (created_at);
CREATE INDEX products_active_stock ON products (is_active, stock);
