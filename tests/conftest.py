"""Shared test settings."""

import torch

# Tiny models gain nothing from intra-op threads, and on a busy machine OpenMP threads that wait on each other
# make small convolutions tens of times slower; one thread keeps the suite fast and its time predictable.
torch.set_num_threads(1)
