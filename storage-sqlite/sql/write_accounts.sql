INSERT INTO accounts (identity, balance, escrowed, credit_limit, created_at)
SELECT j.value->>'identity', j.value->>'balance', j.value->>'escrowed',
j.value->>'credit_limit', j.value->>'created_at'
FROM json_each(?) j WHERE true
ON CONFLICT (identity) DO UPDATE SET balance = excluded.balance,
escrowed = excluded.escrowed, credit_limit = excluded.credit_limit;
