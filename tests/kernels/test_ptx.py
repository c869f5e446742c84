"""The CUDA kernels compile to real PTX for sm_90 (no GPU needed, but NVVM must be installed)."""

from __future__ import annotations

from kernel_helpers import run_ptx_script

SCRIPT = """
    from kernels import cuda as k
    from kernels._math import camera as cm
    for mid in cm.MODEL_IDS:
        for prec, real in (("float32", f32), ("float64", f64)):
            sig = (A(f32, 2), A(real, 2), A(real, 2), A(i64, 1), A(f32, 2), A(f32, 2), A(f32, 2), A(b1, 2))
            ptx, _ = cuda.compile_ptx(k.project_kernel(mid, prec).py_func, sig, cc=(9, 0))
            assert ".target sm_90" in ptx, mid
            if prec == "float32":  # single precision end to end: no double arithmetic in the kernel
                assert ".f64" not in ptx, (mid, [l for l in ptx.splitlines() if ".f64" in l][:5])
    sig = (A(f32, 2), A(i32, 1), A(i32, 1), i64, A(i64, 1), A(f64, 2), A(i64, 1), A(f64, 2), A(f64, 2),
           b1, A(f64, 1), A(f32, 2))
    ptx, _ = cuda.compile_ptx(k.deskew.py_func, sig, cc=(9, 0))
    assert ".target sm_90" in ptx
    sig = (A(f32, 2), A(f32, 1), A(i32, 1), A(i32, 1), A(i64, 1), A(f64, 2), A(i64, 1), A(f64, 2),
           A(f64, 2), b1, A(f32, 1))
    cuda.compile_ptx(k.radar_velocity.py_func, sig, cc=(9, 0))
    sig = (A(f32, 2), A(f32, 2), A(f32, 2), A(b1, 2), A(i64, 2), A(f32, 3))
    ptx, _ = cuda.compile_ptx(k.depth_buffer.py_func, sig, cc=(9, 0))
    assert "atom" in ptx or "red." in ptx  # atomic min on the depth image
    print("PTX_OK")
"""


def test_device_functions_compile_to_ptx_for_sm90() -> None:
    run_ptx_script(SCRIPT)
