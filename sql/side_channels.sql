-- Side channels around the policies (isolation lines 35-39): what vital.audit() reads to find
-- them, and the one switch a DBA throws to close the statistics channel.

-- The statistics functions that take a relation's (or database's, or function's) OID: their
-- counters (index entries returned, tuples fetched, blocks read, ...) count every tenant's
-- rows a statement touched, so a tenant that may call them learns how many rows of other
-- tenants matched its own conditions. The pg_stat_* and pg_statio_* views call them. Where
-- pg_stat_statements is installed, its two readers too: the buffer counters of a tenant's own
-- statements grow with the pages of other tenants' rows its scans visit, and every role sees
-- every other role's counters.
CREATE FUNCTION vital.statistics_functions()
RETURNS SETOF regprocedure
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $functions$
SELECT f FROM (
    SELECT p.oid::regprocedure AS f, p.proname
      FROM pg_proc p
     WHERE p.pronamespace = 'pg_catalog'::regnamespace
       AND left(p.proname, 12) = 'pg_stat_get_'
       AND p.pronargs = 1 AND p.proargtypes[0] = 'oid'::regtype
    UNION ALL
    SELECT p.oid::regprocedure, p.proname
      FROM pg_extension e
      JOIN pg_depend d ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
                      AND d.classid = 'pg_proc'::regclass AND d.deptype = 'e'
      JOIN pg_proc p ON p.oid = d.objid
     WHERE e.extname = 'pg_stat_statements' AND p.proname IN ('pg_stat_statements', 'pg_stat_statements_info')
) functions
ORDER BY proname, f::text
$functions$;

-- Takes EXECUTE on vital.statistics_functions() from PUBLIC and gives it to pg_read_all_stats
-- (monitoring roles keep the pg_stat_* views), or with `restricted => false` puts PostgreSQL's
-- default back. Returns how many functions it changed. Changes pg_catalog's privileges in this
-- database only; pg_dump keeps them. Runs as the caller: only a superuser can.
CREATE FUNCTION vital.restrict_statistics(restricted boolean DEFAULT true)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $restrict$
DECLARE
    f regprocedure;
    changed integer := 0;
BEGIN
    IF restricted IS NULL THEN
        RAISE EXCEPTION 'vital.restrict_statistics: argument "restricted" must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOR f IN SELECT * FROM vital.statistics_functions() LOOP
        IF restricted THEN
            EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO pg_read_all_stats', f);
        ELSE
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO PUBLIC', f);
            EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM pg_read_all_stats', f);
        END IF;
        changed := changed + 1;
    END LOOP;
    RETURN changed;
END
$restrict$;

-- The value a new session of `role` in this database starts with, in PostgreSQL's order: the
-- role's setting for this database, the role's own, the database's, `ALTER ROLE ALL`'s, then
-- the server's (`role` 0: from the database's on). The server's value is the one this session
-- sees unless this session's role, database or client changed it; then PostgreSQL's built-in
-- default stands in for it. (Parameters are referred to by position: in a SQL function a column
-- of the same name, such as pg_settings.setting, would win over them.)
CREATE FUNCTION vital.login_setting(role oid, setting text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $setting$
SELECT coalesce(
    (SELECT substr(c, length($2) + 2)
       FROM pg_db_role_setting s CROSS JOIN LATERAL unnest(s.setconfig) c
      WHERE (s.setrole, s.setdatabase) IN (($1, (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())),
                                           ($1, 0::oid),
                                           (0::oid, (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())),
                                           (0::oid, 0::oid))
        AND left(c, length($2) + 1) = $2 || '='
      ORDER BY s.setrole = $1 AND $1 <> 0 DESC, s.setdatabase <> 0 DESC
      LIMIT 1),
    (SELECT CASE WHEN ps.source IN ('database', 'user', 'database user', 'client', 'session')
                 THEN ps.boot_val ELSE ps.setting END
       FROM pg_settings ps WHERE ps.name = $2))
$setting$;

-- Whether a list of libraries (a *_preload_libraries value) names vital_tenancy.
CREATE FUNCTION vital.names_vital_library(libraries text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $names$
SELECT coalesce(EXISTS (
    SELECT FROM unnest(string_to_array(libraries, ',')) l(library)
     WHERE regexp_replace(btrim(l.library, ' "'), '^\$libdir/', '') IN ('vital_tenancy', 'vital_tenancy.so')), false)
$names$;

-- Whether a duration setting's value is zero (off).
CREATE FUNCTION vital.is_zero_duration(value text)
RETURNS boolean
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $zero$
SELECT coalesce(btrim(value, ' ''') ~ '^0+(\.0*)?\s*(us|ms|s|min|h|d)?$', true)
$zero$;
