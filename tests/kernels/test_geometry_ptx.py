"""Cluster fitting and cuboid footprint CUDA code compiles to real PTX for sm_90 (NVVM needed, no GPU).

Both loop bodies are single scalar functions shared with the CPU kernels (``kernels._math.fit.fit_selected``,
``kernels._math.footprint.store_sample``); the simulator tests check what they compute, this checks that
the real CUDA target accepts them (device functions that write arrays and return nothing).
"""

from __future__ import annotations

from kernel_helpers import run_ptx_script

SCRIPT = """
    from kernels._math.camera import BROWN_CONRADY
    from kernels import cuda_geometry
    fit_sig = (
        A(f32, 2), A(f32, 1), A(i64, 1), A(i64, 1), A(i64, 1), A(f64, 1), A(f64, 2), i64, A(f32, 2),
        A(f32, 2), A(i32, 1), A(f32, 1),
    )
    ptx, _ = cuda.compile_ptx(cuda_geometry.fit_clusters.py_func, fit_sig, cc=(9, 0))
    assert ".target sm_90" in ptx
    # The production footprint kernels call their device functions without inlining (compile time), and
    # this numba-cuda resolves such calls against a live device; the same scalar group is compiled here
    # inlined, inside the production kernel's loop, which needs no device.
    from kernels._math import footprint as fm

    def make(model):
        store = fm.compile_group(model, cuda.jit(device=True, inline=True))["store_sample"]

        def kernel(bp, rts, intrs, cam_index, sel, k_edge, grid, near, u, v, depth, points_cam, flags):
            start, stride = cuda.grid(1), cuda.gridsize(1)
            n_s = u.shape[1]
            for k in range(start, sel.shape[0] * n_s, stride):
                q = k // n_s
                s = k - q * n_s
                j = sel[q]
                c = cam_index[j]
                store(model, intrs[c], rts[c], near, bp, j, s, k_edge, grid, u, v, depth, points_cam, flags)

        return kernel

    foot_sig = (
        A(f64, 2), A(f64, 2), A(f64, 2), A(i64, 1), A(i64, 1), i64, i64, f64,
        A(f32, 2), A(f32, 2), A(f32, 2), A(f32, 3), A(u8, 2),
    )
    for model in (BROWN_CONRADY,):  # the footprint math is model-independent; projectors: test_ptx.py
        ptx, _ = cuda.compile_ptx(make(model), foot_sig, cc=(9, 0))
        assert ".target sm_90" in ptx, model
    print("PTX_OK")
"""


def test_fit_and_footprint_kernels_compile_to_ptx_for_sm90() -> None:
    run_ptx_script(SCRIPT)
