"""The temporal evidence store: intervals of unchanged state, content-addressed blobs, a run digest chain."""
