"""Wire formats <-> domain: Segment-spec API bodies and the versioned queue envelope."""
