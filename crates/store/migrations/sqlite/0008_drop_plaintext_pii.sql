-- Drops the plaintext e-mail and display name once every row carries its
-- envelopes (the application converts them after migration 7). If any row
-- was not converted, the CASE below raises "integer overflow", which
-- aborts this migration (and keeps the plaintext) instead of losing data.
SELECT CASE
    WHEN EXISTS (SELECT 1 FROM users WHERE email_enc IS NULL OR display_name_enc IS NULL
                 OR email_bidx IS NULL)
    THEN abs(-9223372036854775807 - 1)
END;
DROP INDEX users_email_live;
ALTER TABLE users DROP COLUMN email;
ALTER TABLE users DROP COLUMN display_name;
