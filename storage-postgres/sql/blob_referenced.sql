UPDATE blobs SET body = jsonb_set(body::jsonb, '{referenced}', 'true')::text WHERE hash = $1
