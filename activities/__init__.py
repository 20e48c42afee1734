"""mendflow's Temporal activities: the side-effect boundary (packaged from the top-level `activities/` folder)."""
