"""Outside-call tariffs: rating calls to the public network by destination prefix, per-trunk
costs and the margin report (issue 17; docs/tariffs.md)."""
