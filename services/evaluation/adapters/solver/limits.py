"""How much the solver computes at once: each bounds a temporary's memory or a call's size."""

# affinity rows computed at once: bounds temporary memory. 256 rather than 1,024: at a
# topic of 38,000 x 30,000 the streamed pass peaked 0.8 GB lower and took 7.7 s
# against 11.1 s (bench/assignment.py; the blocks' temporaries fit the caches better).
# 128 rather than 256: two threads' blocks of 30,000 experts and their temporaries were
# the peak of the affinity pass and of pricing; at 20,000 x 30,000 (in process) the
# solve peaked at 516 and 563 MB against 670 and 672, on the same CPU (19.7 and 20.0 s
# against 19.9 and 21.1)
ROWS_PER_CHUNK = 128
ARCS_READ_AT_ONCE = 1 << 20  # arcs whose flow is asked of OR-Tools in one call
PAIRS_PER_SLICE = 1 << 20  # stored pairs priced at once
STORED_PER_CANDIDATE = 4  # pairs stored per proposal, per candidate arc
COLUMN_CANDIDATES_MAX = 32  # improving pairs per expert a pricing round adds, at most
