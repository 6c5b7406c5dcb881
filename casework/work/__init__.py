"""Community work: sites, hours logged in the field, verification, corrections, balances."""
