UPDATE api_keys SET revoked_at = ?
WHERE identity = ? AND prefix = ? AND revoked_at IS NULL
AND (NOT ? OR EXISTS (SELECT 1 FROM api_keys o WHERE o.identity = ?
AND o.revoked_at IS NULL AND o.prefix <> ?)
OR EXISTS (SELECT 1 FROM logins l WHERE l.identity = ?))
