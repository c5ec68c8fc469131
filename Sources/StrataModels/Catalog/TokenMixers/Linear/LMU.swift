import Foundation
import StrataCore
import StrataNN

/// Legendre Memory Unit token mixer (catalog `lmu`; Voelker, Kajić & Eliasmith 2019, as used by LMUFormer,
/// Liu et al. 2024): u_t = W_u·x_t (C → U memory inputs), and per input j a q-dimensional memory
/// m_t^j = Ā·m_{t−1}^j + B̄·u_t^j whose matrices are fixed, not learned: the Legendre A, B over a window of θ steps
/// (`LegendreMemory`), discretized by zero-order hold. The output is W_o·vec(m_t) (U·q → C). The mixer is linear
/// time-invariant, so within a chunk of N steps the memory is the causal convolution
/// m_t = Ā^{t+1}·m_{−1} + Σ_{s≤t} Ā^{t−s}B̄·u_s (a Toeplitz matmul, O(N·q·U) per step; the paper's FFT computes the
/// same product in O(log T)), chunks pass the last state on, and a cached call is the same thing continuing the
/// stored memory, which at one token is the recurrence itself. The memory is causal in encoders too. The
/// LMUFormer block's convolutional patch embedding and channel mixer are other slots; the spiking variant is out
/// of scope.
public final class LegendreMemoryMixer: Module, Component, TokenMixer {
    /// The variant's spec options (each documented where it is read).
    public struct Options: ComponentOptions {
        /// Legendre orders q per memory.
        public var order: Int
        /// Window θ in steps.
        public var theta: Float
        /// Memory inputs U.
        public var units: Int
        /// Chunk length N of the training form.
        public var chunk: Int
        public init(_ r: inout OptionReader) {
            order = r.int("order", default: 16, "Legendre orders q of each memory (state size U·q)", in: 1...256)
            theta = r.float("theta", default: 64, "window θ in steps that the memory spans", in: 1...1e7)
            units = r.int("units", default: 4, "memory inputs U (projections of x, each with its own memory)", in: 1...4096)
            chunk = r.int("chunk", default: 64, "chunk length N of the convolution form", in: 1...4096)
        }
    }
    public static let info = ComponentInfo(
        id: "lmu", summary: "Legendre Memory Unit: fixed LTI Legendre memory of a learned projection, read out linearly",
        paper: "LMUFormer (Liu et al., 2024); Legendre Memory Units (Voelker et al., 2019)")

    /// Projection C → U of the memory inputs.
    public let encode: Linear
    /// Read-out U·q → C.
    public let out: Linear
    /// The discretized memory.
    public let memory: LegendreMemory
    public let units: Int
    public let options: Options

    public init(options: Options, context: BuildContext, rng: inout RNG) {
        self.options = options
        units = options.units
        memory = LegendreMemory(order: options.order, window: Double(options.theta))
        encode = Linear(context.dim, units, bias: false, rng: &rng, weightInit: .normal(std: context.initStd))
        out = Linear(units * options.order, context.dim, bias: false, rng: &rng, weightInit: .normal(std: context.residualInitStd))
        super.init()
    }

    public static func parameterCount(options: Options, context: BuildContext) -> Int {
        context.dim * options.units + options.units * options.order * context.dim
    }

    /// Per token the memory update Ā·m (q² per unit) and, in the convolution form, a Toeplitz product over the chunk
    /// (N·q per unit); the state is U·q per sequence.
    public static func cost(options: Options, context: BuildContext) -> ComponentCost {
        let w = Double(parameterCount(options: options, context: context))
        let (u, q) = (Double(options.units), Double(options.order))
        let n = Double(max(1, min(options.chunk, context.contextLength)))
        return ComponentCost(matmulWeights: w, mixingFlops: 2 * u * q * (q + n),
                             activationsPerToken: w / Double(max(context.dim, 1)) + 2 * u * q, statePerSequence: u * q)
    }

    public func forward(_ x: Tensor, context: MixerContext, cache: MixerCache?) -> Tensor {
        let (b, t) = (x.shape[0], x.shape[1])
        // Caches come from this mixer's own makeCache. T = 0 would leave `state` nil below: callers pass at least one
        // token (generation's restart at context_length 1 did not; see Generation.swift).
        let recurrent = cache.map { $0 as! RecurrentCache }
        let u = encode(x)                                               // [B, T, U]
        var state = recurrent?.state, parts: [Tensor] = []
        for start in stride(from: 0, to: t, by: options.chunk) {
            let n = min(options.chunk, t - start)
            let m = memoryStates(u.slice(axis: 1, start..<start + n), initial: state)   // [B, N, U, q]
            state = m.slice(axis: 1, (n - 1)..<n).reshaped([b, units, memory.order])
            parts.append(m)
        }
        if let recurrent {
            recurrent.state = state!.detached()
            recurrent.length += t
        }
        let m = parts.count == 1 ? parts[0] : Tensor.concat(parts, axis: 1)
        return out(m.reshaped([b, t, units * memory.order]))
    }

    /// Memory states [B, T, U, q] for inputs u [B, T, U], starting from `initial` [B, U, q] (zero when nil).
    public func memoryStates(_ u: Tensor, initial: Tensor?) -> Tensor {
        let (b, t, q) = (u.shape[0], u.shape[1], memory.order)
        let (kernel, powers) = memory.kernels(length: t)
        let k = Tensor(kernel, shape: [q, t, t])                        // K[i, t, s] = (Ā^{t−s}B̄)_i, s ≤ t
        let m = k.matmul(u.reshaped([b, 1, t, units])).permuted([0, 2, 3, 1])   // [B, q, T, U] → [B, T, U, q]
        guard let initial else { return m }
        let p = Tensor(powers, shape: [t, q, q])                        // Ā^{t+1}
        return m + initial.reshaped([b, 1, units, q]).matmul(p, transposeB: true)
    }

    public func makeCache(batch: Int, capacity: Int) -> MixerCache { RecurrentCache() }
}

/// The LMU's fixed memory: continuous-time A_ij = (2i+1)/θ·(−1 if i < j, else (−1)^{i−j+1}),
/// B_i = (2i+1)·(−1)^i/θ, which projects the last θ of the input onto shifted Legendre polynomials, discretized by
/// zero-order hold with a unit step: Ā = e^A, B̄ = A⁻¹(e^A − I)B, read off e^M for M = [[A, B], [0, 0]].
public struct LegendreMemory: Sendable {
    /// Orders q.
    public let order: Int
    /// Window θ in steps.
    public let window: Double
    /// Ā [q, q], row-major.
    public let transition: [Double]
    /// B̄ [q].
    public let input: [Double]

    /// The discretized memory of `order` q over θ = `window` steps.
    public init(order q: Int, window theta: Double) {
        order = q
        window = theta
        let n = q + 1
        var m = [Double](repeating: 0, count: n * n)
        for i in 0..<q {
            for j in 0..<q {
                let sign: Double = i < j ? -1 : ((i - j + 1) % 2 == 0 ? 1 : -1)
                m[i * n + j] = Double(2 * i + 1) / theta * sign
            }
            m[i * n + q] = Double(2 * i + 1) * (i % 2 == 0 ? 1 : -1) / theta
        }
        let e = Self.exponential(m, size: n)
        transition = (0..<q).flatMap { i in (0..<q).map { e[i * n + $0] } }
        input = (0..<q).map { e[$0 * n + q] }
    }

    /// The convolution kernel [q, T, T] (entry (i, t, s) = (Ā^{t−s}B̄)_i for s ≤ t, else 0) and the powers
    /// Ā^{t+1} [T, q, q] that carry an initial state, as Float32 computed in double.
    public func kernels(length t: Int) -> (kernel: [Float], powers: [Float]) {
        let q = order
        var impulse = [[Double]](), h = input
        var power = transition, powers = [Float]()
        for _ in 0..<t {
            impulse.append(h)
            h = apply(h)
            powers += power.map(Float.init)
            power = multiply(transition, power)
        }
        var kernel = [Float](repeating: 0, count: q * t * t)
        for i in 0..<q { for a in 0..<t { for s in 0...a { kernel[(i * t + a) * t + s] = Float(impulse[a - s][i]) } } }
        return (kernel, powers)
    }

    /// Ā·v.
    public func apply(_ v: [Double]) -> [Double] {
        (0..<order).map { i in (0..<order).reduce(0.0) { $0 + transition[i * order + $1] * v[$1] } }
    }

    private func multiply(_ x: [Double], _ y: [Double]) -> [Double] {
        let q = order
        var z = [Double](repeating: 0, count: q * q)
        for i in 0..<q { for k in 0..<q { for j in 0..<q { z[i * q + j] += x[i * q + k] * y[k * q + j] } } }
        return z
    }

    /// Matrix exponential by scaling and squaring with a 20-term Taylor series (double precision; after scaling
    /// to norm ≤ 0.5 the series error is far below Float32 rounding).
    static func exponential(_ a: [Double], size n: Int) -> [Double] {
        let norm = a.map(abs).reduce(0, +)
        let s = max(0, Int(log2(max(norm, 1e-300) / 0.5).rounded(.up)))
        let scaled = a.map { $0 / pow(2, Double(s)) }
        func multiply(_ x: [Double], _ y: [Double]) -> [Double] {
            var z = [Double](repeating: 0, count: n * n)
            for i in 0..<n { for k in 0..<n where x[i * n + k] != 0 { for j in 0..<n { z[i * n + j] += x[i * n + k] * y[k * n + j] } } }
            return z
        }
        var result = (0..<(n * n)).map { $0 % (n + 1) == 0 ? 1.0 : 0.0 }
        var term = result
        for k in 1...20 {
            term = multiply(term, scaled).map { $0 / Double(k) }
            for i in result.indices { result[i] += term[i] }
        }
        for _ in 0..<s { result = multiply(result, result) }
        return result
    }
}
