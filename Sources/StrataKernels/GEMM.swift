import CStrataKernels

// Single-precision GEMM: C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C, row-major.
//
// Goto/BLIS structure. For each K block of depth kc (the only loop that touches a C element more than
// once, and it runs in the same order on every path), op(A) rows are packed into mr-row micro-panels and
// op(B) columns into nr-column micro-panels; packing absorbs both transposes. A register-tiled C
// micro-kernel (gemm_x86.c, gemm_arm.c, gemm.c) then walks mc-row blocks of packed A against the packed
// B panel. Threads split the output tiles, never K, so each C element sees the identical FMA sequence
// whatever the thread count: results are bit-identical for 1 or many threads. Tiny problems and row
// vectors (decode) skip packing: `strata_sgemm_direct` reads A and B in place.

/// Block sizes and instruction set for a GEMM; `detected` is what the public entry points use.
package struct GEMMConfig: Sendable {
    /// Vector ISA whose micro-kernel runs (must be supported by this CPU).
    package var isa: VectorISA
    /// Register tile of the micro-kernel (fixed by the ISA).
    package let mr: Int, nr: Int
    /// Cache blocks: K depth, rows of packed A per L2 block, columns of packed B per panel.
    package var kc: Int, mc: Int, nc: Int
    /// Problems with m·n·k at or below this, or with at most `directRows` rows, skip packing.
    package var directFlops = 32_768
    package var directRows = 2
    /// Row-vector products with at least this many multiply-adds split their columns over the threads. Decoding
    /// streams its weights from memory, and two cores draw more bandwidth than one: with cold weights a 384→384
    /// product (147k multiply-adds) took 36 µs on 1 thread and 24 µs split over 2 (`strata bench kernels --only gemv`).
    package var directSplitWork = 1 << 16
    /// Most floats of op(A) packed per K block (4 MiB, in L3); taller A is packed in row chunks.
    package var packedAFloats = 1 << 20

    /// The default blocking of `isa`'s micro-kernel.
    package init(isa: VectorISA) {
        // The C dispatch falls back to the portable kernel for an ISA it was not built for, whose tile
        // would not match this blocking.
        precondition(GEMMConfig.available.contains(isa),
                     "sgemm: ISA \(isa) is not available on this CPU; choose one of \(GEMMConfig.available)")
        let blocking = strata_sgemm_blocking(isa.cISA)
        self.isa = isa
        mr = Int(blocking.mr); nr = Int(blocking.nr)
        kc = Int(blocking.kc); mc = Int(blocking.mc); nc = Int(blocking.nc)
    }

    /// Depth of each K block for a product of depth k: equal blocks (a short last block would cost a full pass
    /// over C for little work), a function of k alone so it cannot depend on the thread count.
    package func kBlockDepth(k: Int) -> Int {
        let kBlocks = (k + kc - 1) / max(1, kc)
        return (k + max(kBlocks, 1) - 1) / max(kBlocks, 1)
    }

    /// The configuration for the best ISA of this CPU.
    package static let detected = GEMMConfig(isa: .detected)

    /// Every ISA this CPU can run (for tests that check each path against the reference).
    package static var available: [VectorISA] {
        switch VectorISA.detected {
        case .avx512: return [.portable, .avx2, .avx512]
        case .avx2: return [.portable, .avx2]
        case .neon: return [.portable, .neon]
        case .portable: return [.portable]
        }
    }
}

extension VectorISA {
    var cISA: strata_isa {
        switch self {
        case .portable: return STRATA_ISA_PORTABLE
        case .avx2: return STRATA_ISA_AVX2
        case .avx512: return STRATA_ISA_AVX512
        case .neon: return STRATA_ISA_NEON
        }
    }
}

/// C[M×N] = alpha · op(A) · op(B) + beta · C, all row-major. op(A) is M×K (A stored K×M with lda when transA),
/// op(B) is K×N (B stored N×K with ldb when transB). beta == 0 means C is not read (NaN-safe).
public func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                  alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                  b: UnsafePointer<Float>, ldb: Int,
                  beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
          beta: beta, c: c, ldc: ldc, config: .detected)
}

/// `sgemm` with an explicit configuration (ISA and blocking), for tests and tuning.
package func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                   alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                   b: UnsafePointer<Float>, ldb: Int,
                   beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, config: GEMMConfig) {
    let problem = GEMMProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                              a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    problem.validate("sgemm")
    problem.run(config: config, threads: Threads.current())
}

/// `sgemm` whose op(B) was packed once by `PackedGEMMOperand` (a weight reused across calls): the same bits as
/// the plain call on `packed`'s source matrix, without repacking it. `b`/`ldb`/`transB` describe that source
/// (small and row-vector products read it directly).
public func sgemm(transA: Bool, m: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                  packed: PackedGEMMOperand, b: UnsafePointer<Float>, beta: Float = 0,
                  c: UnsafeMutablePointer<Float>, ldc: Int) {
    var problem = GEMMProblem(transA: transA, transB: packed.transposed, m: m, n: packed.n, k: packed.k, alpha: alpha,
                              a: a, lda: lda, b: b, ldb: packed.ldb, beta: beta, c: c, ldc: ldc)
    problem.packedB = packed
    problem.validate("sgemm")
    problem.run(config: packed.config, threads: Threads.current())
}

/// Batched: matrix i uses a + i*strideA, b + i*strideB, c + i*strideC. strideA or strideB may be 0 (broadcast).
public func sgemmBatched(batch: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                         alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, strideA: Int,
                         b: UnsafePointer<Float>, ldb: Int, strideB: Int,
                         beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int) {
    sgemmBatched(batch: batch, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                 a: a, lda: lda, strideA: strideA, b: b, ldb: ldb, strideB: strideB,
                 beta: beta, c: c, ldc: ldc, strideC: strideC, config: .detected)
}

/// `sgemmBatched` with an explicit configuration (ISA and blocking), for tests and tuning.
package func sgemmBatched(batch: Int, transA: Bool, transB: Bool, m: Int, n: Int, k: Int,
                          alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, strideA: Int,
                          b: UnsafePointer<Float>, ldb: Int, strideB: Int,
                          beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, strideC: Int,
                          config: GEMMConfig) {
    precondition(batch >= 0, "sgemmBatched: batch must be ≥ 0, got \(batch)")
    precondition(strideA >= 0 && strideB >= 0 && strideC >= 0,
                 "sgemmBatched: strides must be ≥ 0, got strideA=\(strideA) strideB=\(strideB) strideC=\(strideC)")
    precondition(batch <= 1 || m == 0 || n == 0 || strideC >= (m - 1) * ldc + n,
                 "sgemmBatched: strideC=\(strideC) makes outputs overlap (m=\(m), n=\(n), ldc=\(ldc))")
    let first = GEMMProblem(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    first.validate("sgemmBatched")
    guard batch > 0 else { return }
    func item(_ i: Int) -> GEMMProblem {
        var p = first
        p.a = a + i * strideA; p.b = b + i * strideB; p.c = c + i * strideC
        return p
    }
    // Too little work to repay waking other threads (a few microseconds): stay on this one.
    let threads = batch * m * n * k < GEMMProblem.minParallelWork ? 1 : Threads.current()
    // Many matrices: one thread per group of whole matrices (no per-matrix synchronization). Otherwise each
    // matrix is split over tiles. Both run the same per-element arithmetic, so the choice never shows in
    // the bits.
    if threads > 1 && (batch % threads == 0 || batch >= 4 * threads) {
        parallelFor(batch) { range in
            for i in range { item(i).run(config: config, threads: 1) }
        }
    } else {
        for i in 0..<batch { item(i).run(config: config, threads: threads) }
    }
}

/// One GEMM call's operands, checked once and passed to the paths below.
struct GEMMProblem {
    var transA: Bool, transB: Bool
    var m: Int, n: Int, k: Int
    var alpha: Float
    var a: UnsafePointer<Float>, lda: Int  // A[M×lda], or [K×lda] when transA
    var b: UnsafePointer<Float>, ldb: Int  // B[K×ldb], or [N×ldb] when transB
    var beta: Float
    var c: UnsafeMutablePointer<Float>, ldc: Int  // C[M×ldc]
    /// op(B) already packed for `config` (weights reused across calls); `b` is still read by the direct path.
    var packedB: PackedGEMMOperand? = nil

    /// Multiply-adds below which a call runs on one thread (about 10 µs of work).
    static let minParallelWork = 1 << 18

    func validate(_ kernel: String) {
        precondition(m >= 0 && n >= 0 && k >= 0, "\(kernel): sizes must be ≥ 0, got m=\(m) n=\(n) k=\(k)")
        let minA = max(1, transA ? m : k), minB = max(1, transB ? k : n), minC = max(1, n)
        precondition(lda >= minA, "\(kernel): lda=\(lda) must be ≥ \(minA) (transA=\(transA), m=\(m), k=\(k))")
        precondition(ldb >= minB, "\(kernel): ldb=\(ldb) must be ≥ \(minB) (transB=\(transB), k=\(k), n=\(n))")
        precondition(ldc >= minC, "\(kernel): ldc=\(ldc) must be ≥ \(minC) (n=\(n))")
    }

    /// Runs on at most `threads` threads, picking the direct or packed path from the shape alone.
    func run(config: GEMMConfig, threads: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 { scaleC(); return }
        if m * n * k <= config.directFlops || m <= config.directRows {
            runDirect(config: config, threads: m * n * k < config.directSplitWork ? 1 : threads)
        } else {
            runPacked(config: config, threads: m * n * k < Self.minParallelWork ? 1 : threads)
        }
    }

    /// k == 0: C = beta · C (C is not read when beta == 0).
    private func scaleC() {
        for i in 0..<m {
            let row = c + i * ldc
            for j in 0..<n { row[j] = beta == 0 ? 0 : beta * row[j] }
        }
    }

    /// Unpacked kernel; large row-vector products are split over column chunks.
    private func runDirect(config: GEMMConfig, threads: Int) {
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: transA && transB ? k * threads : 1)
        defer { scratch.deallocate() }
        // Column chunks of 64 keep each thread's slice vector-aligned. This path streams B from memory at a
        // few rows per pass, so a split only pays once B is large (`strata bench kernels --only gemv`).
        let chunks = min(threads, (n + 63) / 64)
        parallelFor(chunks) { range in
            for t in range {
                let cols = ThreadPool.chunk(t, of: chunks, count: (n + 63) / 64)
                let j0 = cols.lowerBound * 64, j1 = min(n, cols.upperBound * 64)
                strata_sgemm_direct(config.isa.cISA, transA ? 1 : 0, transB ? 1 : 0, Int64(m), Int64(j1 - j0),
                                    Int64(k), alpha, a, Int64(lda), b + (transB ? j0 * ldb : j0), Int64(ldb),
                                    beta, c + j0, Int64(ldc), scratch + (transA && transB ? t * k : 0))
            }
        }
    }
}

// MARK: packed path

extension GEMMProblem {
    /// Goto loop nest: K blocks (outermost, so C sees them in order) › row chunks of packed A ›
    /// column panels of packed B › per-thread rectangles of mc×nr blocks handed to the C macro-kernel.
    func runPacked(config cfg: GEMMConfig, threads: Int) {
        let mr = cfg.mr, nr = cfg.nr
        // Equal K blocks (a short last block would cost a full pass over C for little work); a function of
        // k alone, so it cannot depend on the thread count.
        let kc = cfg.kBlockDepth(k: k)
        let mc = max(mr, cfg.mc / mr * mr), nc = max(nr, cfg.nc / nr * nr)
        // Rows of op(A) packed at once: all of them unless that would outgrow a few MiB of L3.
        let rowChunk = min(roundUp(m, mr), max(mc, cfg.packedAFloats / kc / mc * mc))
        let colPanel = min(roundUp(n, nr), nc)
        let prepacked = packedB.flatMap { $0.matches(cfg, k: k, n: n) ? $0 : nil }
        // packedA [rowChunk/mr][kc][mr], packedB [colPanel/nr][kc][nr], both 64-byte aligned.
        let aCount = roundUp(rowChunk * kc, 16), bCount = prepacked == nil ? colPanel * kc : 0  // 16 floats: B stays 64-byte aligned
        let raw = UnsafeMutableRawPointer.allocate(byteCount: (aCount + bCount) * 4, alignment: 64)
        defer { raw.deallocate() }
        let packedA = raw.bindMemory(to: Float.self, capacity: aCount + bCount)
        let packedB = packedA + aCount
        let isa = cfg.isa.cISA

        for p0 in stride(from: 0, to: k, by: kc) {
            let kb = min(kc, k - p0)
            let betaNow: Float = p0 == 0 ? beta : 1  // later K blocks accumulate onto the first
            for i0 in stride(from: 0, to: m, by: rowChunk) {
                let rows = min(rowChunk, m - i0)
                for j0 in stride(from: 0, to: n, by: nc) {
                    let cols = min(nc, n - j0)
                    let panelB = prepacked.map { UnsafeMutablePointer(mutating: $0.panels(kOffset: p0, column: j0)) } ?? packedB
                    pack(isa: isa, mr: mr, nr: nr, p0: p0, kb: kb, i0: i0, rows: j0 == 0 ? rows : 0,
                         j0: j0, cols: prepacked == nil ? cols : 0, packedA: packedA, packedB: packedB, threads: threads)
                    compute(isa: isa, mr: mr, nr: nr, mc: mc, kb: kb, i0: i0, rows: rows, j0: j0, cols: cols,
                            packedA: packedA, packedB: panelB, beta: betaNow, threads: threads)
                }
            }
        }
    }

    /// Packs op(A)[i0..<i0+rows, p0..<p0+kb] (rows may be 0: already packed) and op(B)[p0..<p0+kb,
    /// j0..<j0+cols], each thread taking an equal share of the A and of the B micro-panels.
    private func pack(isa: strata_isa, mr: Int, nr: Int, p0: Int, kb: Int, i0: Int, rows: Int, j0: Int,
                      cols: Int, packedA: UnsafeMutablePointer<Float>, packedB: UnsafeMutablePointer<Float>,
                      threads: Int) {
        let aPanels = (rows + mr - 1) / mr, bPanels = (cols + nr - 1) / nr
        let parts = min(threads, max(aPanels, bPanels))
        guard parts > 0 else { return }
        parallelFor(parts) { range in
            for t in range {
                let ar = ThreadPool.chunk(t, of: parts, count: aPanels)
                if !ar.isEmpty {
                    let r0 = i0 + ar.lowerBound * mr, count = min(ar.count * mr, i0 + rows - r0)
                    let src = transA ? a + p0 * lda + r0 : a + r0 * lda + p0
                    strata_sgemm_pack_a(isa, Int64(mr), transA ? 1 : 0, Int64(count), Int64(kb), src, Int64(lda),
                                        packedA + ar.lowerBound * mr * kb)
                }
                let br = ThreadPool.chunk(t, of: parts, count: bPanels)
                if !br.isEmpty {
                    let c0 = j0 + br.lowerBound * nr, count = min(br.count * nr, j0 + cols - c0)
                    let src = transB ? b + c0 * ldb + p0 : b + p0 * ldb + c0
                    strata_sgemm_pack_b(isa, Int64(nr), transB ? 1 : 0, Int64(kb), Int64(count), src, Int64(ldb),
                                        packedB + br.lowerBound * nr * kb)
                }
            }
        }
    }

    /// C[i0..<i0+rows, j0..<j0+cols] = alpha · packedA · packedB + beta · C, split into one rectangle of
    /// whole micro-tiles per thread.
    private func compute(isa: strata_isa, mr: Int, nr: Int, mc: Int, kb: Int, i0: Int, rows: Int, j0: Int,
                         cols: Int, packedA: UnsafeMutablePointer<Float>, packedB: UnsafeMutablePointer<Float>,
                         beta: Float, threads: Int) {
        let aPanels = (rows + mr - 1) / mr, bPanels = (cols + nr - 1) / nr
        let grid = threadGrid(threads: threads, rowPanels: aPanels, colPanels: bPanels, mr: mr, nr: nr)
        parallelFor(grid.rows * grid.cols) { range in
            for t in range {
                let rp = ThreadPool.chunk(t / grid.cols, of: grid.rows, count: aPanels)
                let cp = ThreadPool.chunk(t % grid.cols, of: grid.cols, count: bPanels)
                if rp.isEmpty || cp.isEmpty { continue }
                let cLo = cp.lowerBound * nr, cHi = min(cols, cp.upperBound * nr)
                let rHi = min(rows, rp.upperBound * mr)
                for r in stride(from: rp.lowerBound * mr, to: rHi, by: mc) {
                    strata_sgemm_macro(isa, Int64(min(mc, rHi - r)), Int64(cHi - cLo), Int64(kb),
                                       packedA + r * kb, packedB + cLo * kb, alpha, beta,
                                       c + (i0 + r) * ldc + j0 + cLo, Int64(ldc))
                }
            }
        }
    }
}

/// Splits `threads` into rows × cols of thread rectangles over the micro-tile grid, minimizing the
/// largest rectangle (ties go to more row splits, which keeps each thread's B columns wide).
package func threadGrid(threads: Int, rowPanels: Int, colPanels: Int, mr: Int, nr: Int) -> (rows: Int, cols: Int) {
    var best = (rows: 1, cols: 1), bestWork = Int.max
    for tr in 1...max(1, threads) where threads % tr == 0 {
        let tc = threads / tr
        let work = ((rowPanels + tr - 1) / tr) * mr * ((colPanels + tc - 1) / tc) * nr
        if work < bestWork || (work == bestWork && tr > best.rows) {
            best = (tr, tc); bestWork = work
        }
    }
    return best
}

@inline(__always)
func roundUp(_ x: Int, _ multiple: Int) -> Int { (x + multiple - 1) / multiple * multiple }
