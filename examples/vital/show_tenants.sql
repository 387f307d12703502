-- What each of the three VITAL tenant apps sees after the migration.
\pset footer off
\if :{?role_prefix}
\else
\set role_prefix vital
\endif
\echo
\echo '== As the DBA (a superuser: bypasses row level security), rows per tenant:'
SELECT r.relid AS "table", t.slug AS tenant,
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s WHERE tenant_id = %L', r.relid, t.id),
                                            false, true, '')))[1]::text::int AS rows
  FROM vital.registered_tables r CROSS JOIN vital.tenants t
 WHERE r.relid::text IN ('agents', 'tools', 'chat_messages', 'knowledge')
 ORDER BY 1, 2;
\set app Platform
\set port 3000
SELECT :'role_prefix' || '_app_platform' AS role \gset
\set tenant 00000000-0000-0000-0000-000000000001
\ir show_app.sql
\set app 'Digital Health Startup'
\set port 3001
SELECT :'role_prefix' || '_app_dhs' AS role \gset
\set tenant 11111111-1111-1111-1111-111111111111
\ir show_app.sql
\set app Pharmaceuticals
\set port 3002
SELECT :'role_prefix' || '_app_pharma' AS role \gset
\set tenant f7aa6fd4-0af9-4706-8b31-034f1f7accda
\ir show_app.sql
