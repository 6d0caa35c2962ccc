"""Phone-number resources (CP 1.1, 2.4): inventory, states, selection, assignment, porting."""
