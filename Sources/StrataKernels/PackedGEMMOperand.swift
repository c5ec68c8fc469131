import CStrataKernels

/// A B operand of `sgemm` packed once into the micro-panel layout of the packed path, for matrices that are
/// multiplied many times without changing (a weight during inference: every prefill and evaluation batch
/// would otherwise repack it; packing Wᵀ was ~17% of a bench-char prefill).
///
/// Layout: for each K block (depth `GEMMConfig.kBlockDepth`, in order) all ⌈n/nr⌉ column micro-panels
/// [panel][kb][nr], exactly what `GEMMProblem.runPacked` would build for that block, so a product through
/// this operand runs the identical FMA sequence and gives the same bits as the plain call.
public final class PackedGEMMOperand: @unchecked Sendable {
    /// Depth (rows of op(B)) and width (columns of op(B)).
    public let k: Int, n: Int
    /// Whether the source was stored N×K (op(B) = Bᵀ), and its leading dimension.
    public let transposed: Bool, ldb: Int
    let config: GEMMConfig
    let kc: Int
    let panelColumns: Int
    private let storage: UnsafeMutablePointer<Float>
    /// Floats held (for memory accounting).
    public let count: Int

    /// Packs op(B) of a K×N product from `b` (N×K with `ldb` when `transposed`, else K×N).
    public convenience init(b: UnsafePointer<Float>, ldb: Int, transposed: Bool, k: Int, n: Int) {
        self.init(b: b, ldb: ldb, transposed: transposed, k: k, n: n, config: .detected)
    }

    /// As above, for an explicit kernel configuration (tests of each ISA).
    package init(b: UnsafePointer<Float>, ldb: Int, transposed: Bool, k: Int, n: Int, config: GEMMConfig) {
        precondition(k > 0 && n > 0, "PackedGEMMOperand: k=\(k) and n=\(n) must be positive")
        precondition(ldb >= (transposed ? k : n), "PackedGEMMOperand: ldb=\(ldb) too small (k=\(k), n=\(n), transposed=\(transposed))")
        self.k = k; self.n = n; self.transposed = transposed; self.ldb = ldb; self.config = config
        kc = config.kBlockDepth(k: k)
        panelColumns = roundUp(n, config.nr)
        count = panelColumns * k
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(64, count * 4), alignment: 64)
        storage = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        let nr = config.nr, isa = config.isa.cISA, panels = panelColumns / nr
        for p0 in stride(from: 0, to: k, by: kc) {
            let kb = min(kc, k - p0)
            let block = storage + p0 * panelColumns
            // Each thread packs whole micro-panels: the layout does not depend on the split.
            parallelFor(panels, grain: 8) { range in
                let c0 = range.lowerBound * nr, cols = min(range.count * nr, n - c0)
                guard cols > 0 else { return }
                let src = transposed ? b + c0 * ldb + p0 : b + p0 * ldb + c0
                strata_sgemm_pack_b(isa, Int64(nr), transposed ? 1 : 0, Int64(kb), Int64(cols), src, Int64(ldb),
                                    block + range.lowerBound * nr * kb)
            }
        }
    }

    deinit { UnsafeMutableRawPointer(storage).deallocate() }

    /// Whether products under `config` with this depth and width can use the packing.
    func matches(_ config: GEMMConfig, k: Int, n: Int) -> Bool {
        k == self.k && n == self.n && config.isa == self.config.isa && config.nr == self.config.nr
            && config.kBlockDepth(k: k) == kc
    }

    /// The packed panels of the K block starting at `kOffset`, from column `column` (a multiple of nr) on.
    func panels(kOffset: Int, column: Int) -> UnsafePointer<Float> {
        let kb = min(kc, k - kOffset)
        return UnsafePointer(storage + kOffset * panelColumns + column * kb)
    }
}
