"""Looking at a build: inspect, the HTML report, preview of one config on one recording."""
