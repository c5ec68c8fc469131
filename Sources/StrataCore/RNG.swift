import Foundation

/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64), passed explicitly.
///
/// There is no global generator: every op that draws random numbers (initializers, dropout, sampling)
/// takes one, so the same seed gives the same bits everywhere.
public struct RNG: RandomNumberGenerator, Sendable {
    private var s0, s1, s2, s3: UInt64

    /// A generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// Next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// A new independent generator derived from this one (for handing a stream to a sub-component).
    public mutating func split() -> RNG { RNG(seed: next()) }

    /// Uniform in [0, 1) with 24 random bits (every Float in the grid is reachable).
    public mutating func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Standard normal draw (Box–Muller; one value per call, so streams never depend on pairing).
    public mutating func nextNormal() -> Float {
        let u1 = (Double(next() >> 11) + 0.5) * 0x1p-53  // (0, 1): log is finite
        let u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// A tensor of uniform draws in [low, high).
    public mutating func uniform(_ shape: [Int], low: Float = 0, high: Float = 1) -> Tensor {
        fill(shape) { low + (high - low) * $0.nextUniform() }
    }

    /// A tensor of normal draws with the given mean and standard deviation.
    public mutating func normal(_ shape: [Int], mean: Float = 0, std: Float = 1) -> Tensor {
        fill(shape) { mean + std * $0.nextNormal() }
    }

    /// Normal draws redrawn until they fall in [low, high] (absolute bounds, as in common initializers).
    public mutating func truncatedNormal(_ shape: [Int], mean: Float = 0, std: Float = 1,
                                         low: Float = -2, high: Float = 2) -> Tensor {
        guard low < high, std > 0, mean + 6 * std > low, mean - 6 * std < high else {
            shapeError("truncatedNormal", "bounds [\(low), \(high)] leave almost no mass for N(\(mean), \(std)²)")
        }
        return fill(shape) { rng in
            while true {
                let x = mean + std * rng.nextNormal()
                if x >= low && x <= high { return x }
            }
        }
    }

    private mutating func fill(_ shape: [Int], _ draw: (inout RNG) -> Float) -> Tensor {
        let out = Tensor(uninitialized: shape)
        let p = out.pointer
        for i in 0..<out.count { p[i] = draw(&self) }
        return out
    }
}
