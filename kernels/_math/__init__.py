"""Per-element math shared by the CPU and CUDA targets: plain scalar functions, no numba import."""
