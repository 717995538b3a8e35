INSERT INTO profile_capabilities (capability, identity) VALUES ($1, $2) ON CONFLICT DO NOTHING
