import StrataKernels

/// How a per-example loss is reduced to what `backward()` starts from.
public enum LossReduction: Sendable {
    /// Mean over the rows that are not ignored.
    case mean
    /// Sum over all rows.
    case sum
    /// One loss per row (ignored rows give 0).
    case none
}

/// Cross-entropy from logits [..., V] and integer targets (one per row), through the fused kernel.
///
/// Rows whose target is `ignoreIndex` contribute nothing (and are not counted by `.mean`). With label
/// smoothing ε the target distribution is (1 − ε)·onehot + ε/V, as in PyTorch.
public func crossEntropy(logits: Tensor, targets: [Int32], ignoreIndex: Int32 = -100,
                         labelSmoothing: Float = 0, reduction: LossReduction = .mean) -> Tensor {
    guard logits.rank >= 1, let vocab = logits.shape.last, vocab > 0 else {
        shapeError("crossEntropy", "logits need a vocabulary axis, got \(logits.shape)")
    }
    let rows = logits.count / vocab
    guard targets.count == rows else {
        shapeError("crossEntropy", "\(targets.count) targets for logits \(logits.shape) (\(rows) rows)")
    }
    guard labelSmoothing >= 0 && labelSmoothing <= 1 else {
        shapeError("crossEntropy", "labelSmoothing \(labelSmoothing) is outside [0, 1]")
    }
    for (i, t) in targets.enumerated() where t != ignoreIndex && (t < 0 || Int(t) >= vocab) {
        shapeError("crossEntropy", "target \(t) at row \(i) is outside 0..<\(vocab)")
    }
    let losses = Tensor(uninitialized: Array(logits.shape.dropLast()))
    let lse = Tensor(uninitialized: [rows])
    targets.withUnsafeBufferPointer { t in
        CrossEntropyKernels.forward(logits: logits.pointer, targets: t.baseAddress!, rows: rows, vocab: vocab,
                                    ignoreIndex: ignoreIndex, labelSmoothing: labelSmoothing,
                                    losses: losses.pointer, lse: lse.pointer)
    }
    let perRow = Tensor.record("crossEntropy", losses, [logits]) { g in
        let dLogits = Tensor(uninitialized: logits.shape)
        targets.withUnsafeBufferPointer { t in
            CrossEntropyKernels.backward(logits: logits.pointer, targets: t.baseAddress!, lse: lse.pointer,
                                         dLoss: g.pointer, rows: rows, vocab: vocab, ignoreIndex: ignoreIndex,
                                         labelSmoothing: labelSmoothing, dLogits: dLogits.pointer)
        }
        return [dLogits]
    }
    switch reduction {
    case .none: return perRow
    case .sum: return perRow.sum()
    case .mean:
        let counted = targets.reduce(0) { $0 + ($1 == ignoreIndex ? 0 : 1) }
        return perRow.sum() / Float(Swift.max(counted, 1))
    }
}
