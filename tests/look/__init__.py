"""builder.look: inspect, report, preview figures."""
