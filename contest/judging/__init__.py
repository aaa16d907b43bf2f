"""Judge panels: rounds, rubrics, conflict-free assignment, scoring and aggregation."""
