"""Studies: grids of training arms, trained over seeds and compared on the same gold."""
