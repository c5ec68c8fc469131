import CStrataKernels

/// Fused softmax cross-entropy with label smoothing and an ignore index, over logits [N×V] (split over rows).
public enum CrossEntropyKernels {
    /// Per-row loss from logits [N×V] and Int32 targets [N]: loss_n = −(1−ε)·log p[target] − (ε/V)·Σ_v log p[v];
    /// rows whose target == ignoreIndex get loss 0. Saves lse per row (for every row, ignored ones included).
    /// A target outside 0..<V (and not ignoreIndex) → precondition failure naming the row and value.
    public static func forward(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, rows: Int, vocab: Int,
                               ignoreIndex: Int32, labelSmoothing: Float, losses: UnsafeMutablePointer<Float>,
                               lse: UnsafeMutablePointer<Float>) {
        check("forward", targets, rows, vocab, ignoreIndex, labelSmoothing)
        let isa = VecMath.cISA
        parallelFor(rows, grain: VecMath.rowGrain(vocab)) { r in
            strata_cross_entropy_forward(isa, logits + r.lowerBound * vocab, targets + r.lowerBound, r.count, vocab,
                                         ignoreIndex, labelSmoothing, losses + r.lowerBound, lse + r.lowerBound)
        }
    }

    /// dLogits[n, :] = dLoss[n] · (softmax − smoothed one-hot); zero for ignored rows.
    public static func backward(logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>, lse: UnsafePointer<Float>,
                                dLoss: UnsafePointer<Float>, rows: Int, vocab: Int, ignoreIndex: Int32,
                                labelSmoothing: Float, dLogits: UnsafeMutablePointer<Float>) {
        check("backward", targets, rows, vocab, ignoreIndex, labelSmoothing)
        let isa = VecMath.cISA
        parallelFor(rows, grain: VecMath.rowGrain(vocab)) { r in
            let o = r.lowerBound * vocab
            strata_cross_entropy_backward(isa, logits + o, targets + r.lowerBound, lse + r.lowerBound,
                                          dLoss + r.lowerBound, r.count, vocab, ignoreIndex, labelSmoothing,
                                          dLogits + o)
        }
    }

    /// Validates sizes, ε and every target up front: the C kernel indexes logits by target.
    static func check(_ kernel: String, _ targets: UnsafePointer<Int32>, _ rows: Int, _ vocab: Int,
                      _ ignoreIndex: Int32, _ labelSmoothing: Float) {
        precondition(rows >= 0 && vocab > 0,
                     "CrossEntropyKernels.\(kernel): need rows ≥ 0 and vocab > 0, got rows \(rows), vocab \(vocab)")
        precondition(labelSmoothing >= 0 && labelSmoothing <= 1,
                     "CrossEntropyKernels.\(kernel): labelSmoothing must be in 0...1, got \(labelSmoothing)")
        for n in 0..<rows {
            let t = targets[n]
            precondition(t == ignoreIndex || (t >= 0 && Int(t) < vocab),
                         "CrossEntropyKernels.\(kernel): target \(t) at row \(n) is outside 0..<\(vocab) " +
                         "and is not ignoreIndex \(ignoreIndex)")
        }
    }
}
