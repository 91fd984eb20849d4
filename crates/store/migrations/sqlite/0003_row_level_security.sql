-- PostgreSQL's migration 3 adds row-level-security policies. SQLite has no
-- RLS (one embedded process; tenant filters live in every repository
-- query), so this version only keeps the version numbers in step.
SELECT 1;
