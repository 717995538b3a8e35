SELECT count(*) AS pending FROM deliveries WHERE status = 'pending'
