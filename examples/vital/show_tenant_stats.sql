-- Per tenant: the statements run since the last vital.tenant_stats_reset() (the apps' page
-- queries, in the demo) and the rows each tenant holds. Needs shared_preload_libraries =
-- 'vital_tenancy' (docs/operations.md, "Monitoring").
\pset footer off
SELECT coalesce(s.slug, s.tenant::text, '(no tenant)') AS tenant, s.calls AS statements,
       round(s.total_exec_ms::numeric, 1) AS total_ms, round(s.mean_exec_ms::numeric, 2) AS mean_ms,
       round(s.max_exec_ms::numeric, 1) AS max_ms, s.rows AS rows_returned,
       z.rows AS rows_held, pg_size_pretty(z.bytes) AS approximate_size
  FROM vital.tenant_stats() s
  LEFT JOIN (SELECT tenant, sum(rows)::bigint AS rows, sum(bytes)::bigint AS bytes
               FROM vital.tenant_sizes() GROUP BY tenant) z ON z.tenant = s.tenant
 ORDER BY s.tenant IS NULL, s.slug;
