-- Failure lookups for the audit risk score (SQLite; same as
-- migrations/postgres/0013_audit_failure_indexes.sql). Every event with an
-- IP or a user asks for the recent failures from that IP or of that user.
-- The general (log, ip, time) and (log, actor, time) indexes hold every
-- entry, so that lookup walked all of the window's entries from the IP
-- (every login behind one NAT address, every action of a busy admin),
-- once per event. These partial indexes hold only failures and denials;
-- their predicate is the lookup's `outcome IN (...)` term, word for word,
-- so both planners can use them.
CREATE INDEX audit_entries_failures_ip ON audit_entries (log_id, ip, occurred_at)
    WHERE outcome IN ('failure', 'denied');
CREATE INDEX audit_entries_failures_actor ON audit_entries (log_id, actor_user_id, occurred_at)
    WHERE outcome IN ('failure', 'denied');
