"""The box CUDA kernels compile to real PTX for sm_90 (no GPU needed, but NVVM must be installed)."""

from __future__ import annotations

from kernel_helpers import run_ptx_script

SCRIPT = """
    from kernels import cuda_boxes as k
    grid = (A(f64, 2), A(f64, 1), A(i64, 1), A(i32, 1))
    cases = {
        "points_first": (A(f32, 2), *grid, A(i32, 1)),
        "points_count": (A(f32, 2), *grid, A(i32, 1), A(i32, 1)),
        "points_scatter": (A(f32, 2), *grid, A(i64, 1), A(i32, 1), A(i32, 1)),
        "sort_segments": (A(i64, 1), A(i32, 1)),
        "iou_matrix": (A(f64, 2), A(f64, 2), b1, A(f32, 2)),
        "giou_matrix": (A(f64, 2), A(f64, 2), b1, A(f32, 2)),
        "nms_mask": (A(f64, 2), A(i64, 2), i64, A(i64, 1), A(i32, 1), b1, f64, A(u64, 2)),
    }
    for name, sig in cases.items():
        ptx, _ = cuda.compile_ptx(getattr(k, name).py_func, sig, cc=(9, 0))
        assert ".target sm_90" in ptx, name
        if name in ("points_count", "points_scatter"):
            assert "atom" in ptx or "red." in ptx, name
    print("PTX_OK")
"""


def test_box_kernels_compile_to_ptx_for_sm90() -> None:
    run_ptx_script(SCRIPT)
