-- What one tenant app sees, connected as its app role. Variables: app, port, role, tenant.
SELECT format('== %s app (port %s), connected as %s', :'app', :'port', :'role') AS header \gset
\echo
\echo :header
SET ROLE :"role";
-- The tenant for one transaction: the pattern that works behind a pooler and on Citus.
BEGIN;
SELECT vital.set_tenant(:'tenant', true) \g /dev/null
SELECT r.relid AS "table",
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s', r.relid), false, true, '')))[1]::text::int AS visible,
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s WHERE tenant_id = vital.current_tenant()', r.relid), false, true, '')))[1]::text::int AS own,
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s WHERE tenant_id = vital.platform_tenant() AND vital.platform_tenant() <> vital.current_tenant()', r.relid), false, true, '')))[1]::text::int AS shared_platform,
       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %s WHERE tenant_id NOT IN (vital.current_tenant(), vital.platform_tenant())', r.relid), false, true, '')))[1]::text::int AS other_tenants
  FROM vital.registered_tables r ORDER BY 1;
\echo 'its agents (own first):'
SELECT name, business_function,
       CASE WHEN tenant_id = vital.current_tenant() THEN 'own' ELSE 'platform' END AS owner
  FROM agents ORDER BY tenant_id = vital.current_tenant() DESC, name LIMIT 4;
\echo 'through the names the app expects (tools.category, business_functions):'
SELECT t.name AS tool, t.category FROM tools t
 ORDER BY t.tenant_id = vital.current_tenant() DESC, t.name LIMIT 3;
SELECT count(*) AS business_functions, (SELECT count(*) FROM departments) AS departments,
       (SELECT count(*) FROM organizational_roles) AS organizational_roles FROM business_functions;
\echo 'its private conversations:'
SELECT s.title, count(m.id) AS messages
  FROM chat_sessions s
  LEFT JOIN chat_messages m ON m.tenant_id = s.tenant_id AND m.session_id = s.id
 GROUP BY s.id, s.title, s.started_at ORDER BY s.started_at LIMIT 3;
COMMIT;
RESET ROLE;
