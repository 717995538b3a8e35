SELECT capability, COUNT(*) AS agents FROM profile_capabilities GROUP BY capability
