import StrataKernels

extension Tensor {
    /// Rotary position embedding, fused: rotates each consecutive pair (2i, 2i+1) of the first `2·P` channels
    /// of x [..., T, D] by the angle whose cosine and sine are `cos`, `sin` [T, P] (one row per position):
    /// y₂ᵢ = x₂ᵢ·c − x₂ᵢ₊₁·s, y₂ᵢ₊₁ = x₂ᵢ·s + x₂ᵢ₊₁·c; channels ≥ 2P pass through. The backward is the inverse
    /// rotation of the output gradient. Its composed twin (slices, products, concat) is tied to it in the tests.
    public func rotaryEmbedding(cos: Tensor, sin: Tensor) -> Tensor {
        guard rank >= 2, cos.rank == 2, cos.shape == sin.shape, cos.shape[0] == shape[rank - 2],
              2 * cos.shape[1] <= shape[rank - 1] else {
            shapeError("rotaryEmbedding", "x \(shape) needs [..., T, D] with cos/sin [T, P] and 2P ≤ D; got cos \(cos.shape), sin \(sin.shape)")
        }
        let t = shape[rank - 2], d = shape[rank - 1], pairs = cos.shape[1]
        let rows = count / Swift.max(d, 1)
        func rotate(_ src: Tensor, _ direction: Float) -> Tensor {
            let out = Tensor(uninitialized: src.shape)
            withExtendedLifetime((src, cos, sin)) {
                let x = src.pointer, y = out.pointer, c = cos.pointer, s = sin.pointer
                parallelFor(rows, grain: Swift.max(1, 16_384 / Swift.max(d, 1))) { range in
                    for row in range {
                        let xr = x + row * d, yr = y + row * d
                        let cr = c + (row % t) * pairs, sr = s + (row % t) * pairs
                        for i in 0..<pairs {
                            let a = xr[2 * i], b = xr[2 * i + 1], sn = direction * sr[i]
                            yr[2 * i] = a * cr[i] - b * sn
                            yr[2 * i + 1] = a * sn + b * cr[i]
                        }
                        for j in (2 * pairs)..<d { yr[j] = xr[j] }
                    }
                }
            }
            return out
        }
        let value = rotate(self, 1)
        return Tensor.record("rotaryEmbedding", value, [self]) { g in [rotate(g, -1)] }
    }
}
