import StrataKernels

extension Tensor {
    /// Inverted dropout: zeroes each element with probability `p` and scales the rest by 1/(1 − p).
    /// The mask is drawn from `rng` in element order, so the same seed drops the same elements.
    public func dropout(_ p: Float, rng: inout RNG) -> Tensor {
        guard p >= 0 && p < 1 else { shapeError("dropout", "probability \(p) must be in [0, 1)") }
        if p == 0 { return self }
        let mask = Tensor(uninitialized: shape)
        let m = mask.pointer, scale = 1 / (1 - p)
        for i in 0..<count { m[i] = rng.nextUniform() < p ? 0 : scale }
        return self * mask
    }
}
