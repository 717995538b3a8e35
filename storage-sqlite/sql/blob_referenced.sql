UPDATE blobs SET body = json_set(body, '$.referenced', json('true')) WHERE hash = $1
