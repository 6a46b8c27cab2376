"""Policy as data: which measure a traveller gets, from the rules supervisors edit."""
